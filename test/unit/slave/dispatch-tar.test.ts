// tar --extract confinement over an in-memory file tree (no real files): allowed only with
// --allow-tar, from stdin, with the options gsyncd sends and a --directory inside the root.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { decideDispatchWith } from '../../../src/slave/dispatch-decide.js';
import type { DispatchDecision, DispatchPolicy } from '../../../src/slave/dispatch-policy.js';
import { parseDispatchArgs, runDispatch } from '../../../src/slave/dispatch.js';
import { memProbe } from './mem-probe.js';

const probe = memProbe(['/data', '/data/sub', '/outside', '/tmp', '/tmp/gsyncd-aux-mount-abc'], { '/data/escape': '/outside', '/data/dangling': '/nowhere' },
  'h:/gv0 /tmp/gsyncd-aux-mount-abc fuse.glusterfs rw 0 0\n');
const policy: DispatchPolicy = { root: '/data', allowVolumes: ['gv0'], gsyncdArgv: ['gsyncd'], rsyncPath: 'rsync', auxMountParents: ['/tmp'], allowTar: true, tarPath: '/bin/tar' };
const decide = (line: string, po: DispatchPolicy = policy) => decideDispatchWith(line, po, probe);
const outcome = (d: DispatchDecision) => (d.kind === 'refuse' ? d.reason : `${d.kind}: ${d.argv.join(' ')}`);
/** What the master sends (tarExtractArgs), as the dispatcher sees it. */
const SENT = 'tar --extract --file=- --directory=/data --numeric-owner --preserve-permissions --quoting-style=escape --same-owner --xattrs --acls';

describe('tar --extract confinement (in-memory tree)', () => {
  it('lets through what the master sends, with the checked directory and the configured tar', () => {
    assert.equal(outcome(decide(SENT)), `tar: /bin/tar ${SENT.slice(4)}`);
    assert.equal(outcome(decide('tar -x -f - -C sub -p --no-same-owner')), 'tar: /bin/tar --extract --file=- --directory=/data/sub --preserve-permissions --no-same-owner');
    assert.equal(outcome(decide('tar --extract --file=- --directory=/tmp/gsyncd-aux-mount-abc --xattrs --xattrs-include=user.\\*')),
      'tar: /bin/tar --extract --file=- --directory=/tmp/gsyncd-aux-mount-abc --xattrs --xattrs-include=user.*');
  });

  it('only where the dispatcher allows tar', () => {
    const d = decide(SENT, { ...policy, allowTar: false });
    assert.equal(outcome(d), 'forbidden_command');
    assert.match(d.kind === 'refuse' ? d.message : '', /--allow-tar/);
    assert.equal(parseDispatchArgs(['--root', '/d']).allowTar, false);
    const p = parseDispatchArgs(['--root', '/d', '--allow-tar', '--tar-path', '/usr/bin/tar']);
    assert.deepEqual([p.allowTar, p.tarPath], [true, '/usr/bin/tar']);
  });

  it('refuses any other tar mode', () => {
    for (const mode of ['--create', '-c', '--list', '-t', '--append', '--delete', '--diff', '-xvf', '--extract=x']) {
      assert.equal(outcome(decide(`tar ${mode} --file=- --directory=/data`)), 'forbidden_command', mode);
    }
  });

  it('refuses options that run programs, read files, keep absolute names or rewrite names', () => {
    for (const opt of ['-P', '--absolute-names', '--to-command=sh', '--use-compress-program=sh', '-I', 'sh', '--files-from=/etc/x', '-T', '/etc/x',
      '--transform=s,^,/etc/,', '--checkpoint-action=exec=sh', '--info-script=sh', '-F', 'sh', '--rsh-command=sh', '--rmt-command=sh', '--overwrite-dir',
      '--overwrite', '--unlink-first', '--keep-directory-symlink', '--xattrs-include=*', '--xattrs-include=trusted.*', '-z', '--gzip', '--one-top-level=x',
      '--strip-components=1', '--no-overwrite-dir', '--owner=0', '--mode=777', '--exclude=x', '-v']) {
      assert.equal(outcome(decide(`tar --extract --file=- --directory=/data ${opt}`)), 'bad_option', opt);
    }
  });

  it('reads the archive only from stdin (a file, a device or host:path would be read instead)', () => {
    for (const f of ['--file=/dev/st0', '--file=host:/dev/st0', '-f /etc/archive', '--file=']) {
      assert.equal(outcome(decide(`tar --extract ${f} --directory=/data`)), 'bad_option', f);
    }
    assert.equal(outcome(decide('tar --extract --directory=/data')), 'bad_option');
  });

  it('extracts only into the root or an allowed aux mount, by real path; one directory', () => {
    assert.equal(outcome(decide('tar --extract --file=-')), 'bad_option');
    assert.equal(outcome(decide('tar --extract --file=- --directory=/outside')), 'absolute_path');
    assert.equal(outcome(decide('tar --extract --file=- --directory=/data/../outside')), 'path_escape');
    assert.equal(outcome(decide('tar --extract --file=- -C ../outside')), 'path_escape');
    assert.equal(outcome(decide('tar --extract --file=- --directory=/data/escape')), 'path_escape');
    assert.equal(outcome(decide('tar --extract --file=- --directory=/data/dangling/x')), 'path_escape');
    assert.equal(outcome(decide('tar --extract --file=- --directory=/data -C /data/sub')), 'bad_option');
    assert.equal(outcome(decide('tar --extract --file=- -C --to-command=sh')), 'bad_option');
    assert.equal(outcome(decide('tar --extract --file=- --directory=/data member-name')), 'bad_option');
  });
});

describe('runDispatch: tar', () => {
  it('runs the configured tar with English messages and without TAR_OPTIONS from the environment', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gsyncd-dtar-'));
    try {
      const fakeTar = path.join(dir, 'tar');
      fs.writeFileSync(fakeTar, `#!/bin/sh\necho "$LC_ALL \${TAR_OPTIONS-unset} $*" > ${dir}/seen\nexit 2\n`, { mode: 0o755 });
      const p: DispatchPolicy = { root: dir, allowVolumes: [], gsyncdArgv: ['gsyncd'], rsyncPath: 'rsync', allowTar: true, tarPath: fakeTar };
      const env = { SSH_ORIGINAL_COMMAND: `tar --extract --file=- --directory=${dir} --xattrs`, TAR_OPTIONS: '--to-command=sh', LC_ALL: 'de_DE.UTF-8', PATH: process.env['PATH'] };
      assert.equal(await runDispatch(env, p, { events: { emit: () => {}, flush: async () => {}, close: () => {} } }), 2);
      assert.equal(fs.readFileSync(path.join(dir, 'seen'), 'utf8'), `C unset --extract --file=- --directory=${fs.realpathSync(dir)} --xattrs\n`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
