// rsync --server confinement over an in-memory file tree (no real files): the target and
// --temp-dir/--partial-dir by real path, option clusters, aux mounts of allowed volumes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideDispatchWith } from '../../../src/slave/dispatch-decide.js';
import type { DispatchDecision, DispatchPolicy, DispatchProbe } from '../../../src/slave/dispatch-policy.js';
import { allowedVolumeMounts, checkCluster, decideRsync } from '../../../src/slave/dispatch-rsync.js';
import { memProbe } from './mem-probe.js';

const probe = memProbe(['/data', '/data/sub', '/outside', '/real', '/real/data2', '/tmp', '/tmp/gsyncd-aux-mount-abc'], {
  '/data/escape': '/outside', '/data/inner': 'sub', '/data/dangling': '/nowhere', '/data/up': '..',
});
const policy: DispatchPolicy = { root: '/data', allowVolumes: ['gv0'], gsyncdArgv: ['gsyncd'], rsyncPath: '/usr/bin/rsync', auxMountParents: ['/tmp'] };
const rsync = (line: string, pr: DispatchProbe = probe, po: DispatchPolicy = policy) => decideRsync(line.split(' '), po, pr);
const outcome = (d: DispatchDecision) => (d.kind === 'refuse' ? d.reason : d.argv.join(' '));

describe('rsync confinement (in-memory tree)', () => {
  it('targets inside the root, by real path; a trailing slash is kept', () => {
    assert.equal(outcome(rsync('--server -logDtpRS . /data/')), '/usr/bin/rsync --server -logDtpRS . /data/');
    assert.equal(outcome(rsync('--server -r . sub/new/deeper')), '/usr/bin/rsync --server -r . /data/sub/new/deeper');
    assert.equal(outcome(rsync('--server -r . /data/inner/x')), '/usr/bin/rsync --server -r . /data/sub/x', 'a symlink that stays inside');
  });

  it('targets outside, through a symlink, a dangling one, or .. are refused', () => {
    assert.equal(outcome(rsync('--server -r . /outside')), 'absolute_path');
    assert.equal(outcome(rsync('--server -r . ../outside')), 'path_escape');
    assert.equal(outcome(rsync('--server -r . /data/escape/x')), 'path_escape');
    assert.equal(outcome(rsync('--server -r . /data/up/outside')), 'path_escape');
    assert.equal(outcome(rsync('--server -r . /data/dangling/x')), 'path_escape');
    assert.equal(outcome(rsync('--server -r . /data/a /data/b')), 'bad_option');
    assert.equal(outcome(rsync('--server --sender -r . /data')), 'forbidden_command');
  });

  it('a root that is itself a symlink: checked against its real path', () => {
    const pr = memProbe(['/real', '/real/data2', '/elsewhere'], { '/data2': '/real/data2', '/real/data2/out': '/elsewhere' });
    const po = { ...policy, root: '/data2' };
    assert.equal(outcome(rsync('--server -r . /data2/x', pr, po)), '/usr/bin/rsync --server -r . /real/data2/x');
    assert.equal(outcome(rsync('--server -r . /data2/out/x', pr, po)), 'path_escape');
  });

  it('--temp-dir and --partial-dir: below the target, no ..', () => {
    assert.equal(outcome(rsync('--server -r --partial-dir=.p --temp-dir sub . /data/')), '/usr/bin/rsync --server -r --partial-dir=.p --temp-dir=sub . /data/');
    assert.equal(outcome(rsync('--server -r --temp-dir=/outside . /data/')), 'absolute_path');
    assert.equal(outcome(rsync('--server -r --temp-dir=escape . /data/')), 'path_escape');
    assert.equal(outcome(rsync('--server -r --partial-dir=a/../b . /data/')), 'path_escape');
    assert.equal(outcome(rsync('--server -r --temp-dir . /data/')), 'bad_option', 'the next word is not taken as its value');
  });

  it('option clusters: the receiving letters only, e only as e.<letters> at the end', () => {
    assert.equal(checkCluster('logDtpRSe.LsfxCIvu'), null);
    assert.equal(checkCluster('lHogDtpAXRSz'), null);
    assert.match(checkCluster('s')!, /-s is not allowed/);
    assert.match(checkCluster('e ssh')!, /remote shell/);
    assert.match(checkCluster('ex')!, /remote shell/);
    assert.match(checkCluster('rK')!, /-K is not allowed/);
    assert.match(checkCluster('f')!, /-f is not allowed/);
    assert.equal(outcome(rsync('--server -@-1 --timeout=30 --bwlimit 10M . /data/')), '/usr/bin/rsync --server -@-1 --timeout=30 --bwlimit=10M . /data/');
    assert.equal(outcome(rsync('--server --rsh=sh . /data/')), 'bad_option');
    assert.equal(outcome(rsync('--server --inplace=yes . /data/')), 'bad_option', 'a flag does not take a value');
  });

  it('aux mounts of allowed volumes only: fuse.glusterfs under the configured parents', () => {
    const mounts = [
      'localhost:gv0 /tmp/gsyncd-aux-mount-abc fuse.glusterfs rw 0 0',
      'localhost:/gv1 /tmp/gsyncd-aux-mount-def fuse.glusterfs rw 0 0',
      'localhost:gv0 /mnt/gsyncd-aux-mount-x fuse.glusterfs rw 0 0',
      'localhost:gv0 /tmp/other fuse.glusterfs rw 0 0',
      'tmpfs /tmp/gsyncd-aux-mount-t tmpfs rw 0 0',
      'host:gv0 /tmp/gsyncd-aux-mount-with\\040blank fuse.glusterfs rw 0 0',
    ].join('\n');
    assert.deepEqual(allowedVolumeMounts(mounts, policy), ['/tmp/gsyncd-aux-mount-abc', '/tmp/gsyncd-aux-mount-with blank']);
    assert.deepEqual(allowedVolumeMounts(mounts, { ...policy, allowVolumes: ['gv1'] }), ['/tmp/gsyncd-aux-mount-def']);
    assert.deepEqual(allowedVolumeMounts(mounts, { ...policy, allowVolumes: [] }), []);
    const pr = memProbe(['/data', '/tmp', '/tmp/gsyncd-aux-mount-abc'], {}, mounts);
    assert.equal(outcome(rsync('--server -r . /tmp/gsyncd-aux-mount-abc/', pr)), '/usr/bin/rsync --server -r . /tmp/gsyncd-aux-mount-abc/');
    assert.equal(outcome(rsync('--server -r . /tmp/gsyncd-aux-mount-abc/', memProbe(['/data', '/tmp', '/tmp/gsyncd-aux-mount-abc'], {}))), 'absolute_path', 'not mounted');
  });

  it('the whole decision over the same tree: gsyncd --slave needs no reads, rsync is confined', () => {
    const d = decideDispatchWith('gsyncd --slave --timeout 120 /anything', policy, probe);
    assert.equal(d.kind, 'slave');
    assert.equal(d.kind === 'slave' && d.argv.at(-1), '/data');
    assert.equal(outcome(decideDispatchWith('rsync --server -r . /data/escape', policy, probe)), 'path_escape');
    assert.equal(outcome(decideDispatchWith('sh -c id', policy, probe)), 'forbidden_command');
    const throwing: DispatchProbe = { realpath: () => { throw new Error('EIO'); }, isSymlink: () => false, mounts: () => '' };
    const failed = decideDispatchWith('rsync --server -r . /data/x', policy, throwing);
    assert.deepEqual(failed, { kind: 'refuse', reason: 'forbidden_command', message: 'cannot check the command: EIO' }, 'a failing read refuses');
  });
});
