import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { allowedVolumeMounts, decideDispatch, parseDispatchArgs, runDispatch, type DispatchDecision, type DispatchPolicy, type DispatchProbe } from '../../../src/slave/dispatch.js';

// What rsync 3.x sends to the server for gsyncd's data transfer (captured with a fake -e shell):
//   rsync -aR0 --files-from=- --numeric-ids --no-implied-dirs --stats --super --sparse [...] . host:/data/
const OBSERVED = [
  'rsync --server -logDtpRSe.LsfxCIvu --super --stats --numeric-ids --no-implied-dirs . /data/',
  'rsync --server -logDtpRSe.LsfxCIvu --super --stats --numeric-ids --inplace --no-implied-dirs . /data/',
  'rsync --server -logDtpRSze.LsfxCIvu --super --stats --numeric-ids --no-implied-dirs . /data/',
  'rsync --server -logDtpRSze.LsfxCIvu --super --stats --numeric-ids --inplace --no-implied-dirs . /data/',
  'rsync --server -logDtpRSe.LsfxCIvu --stats --numeric-ids --no-implied-dirs . /data/',
  'rsync --server -lHogDtpAXRSe.LsfxCIvu --stats --partial --numeric-ids --no-implied-dirs . /data/',
];

let tmp: string;
let root: string;
let policy: DispatchPolicy;

/** A probe over the real fs, with /data mapped to the temp root, and a fixed mount table. */
function probe(mounts = ''): DispatchProbe {
  return {
    realpath: (p) => { try { return fs.realpathSync.native(p); } catch { return null; } },
    isSymlink: (p) => { try { return fs.lstatSync(p).isSymbolicLink(); } catch { return false; } },
    mounts: () => mounts,
  };
}

const decide = (cmd: string | undefined, p: DispatchPolicy = policy, pr: DispatchProbe = probe()) => decideDispatch(cmd, p, pr);
const reasonOf = (d: DispatchDecision) => (d.kind === 'refuse' ? d.reason : d.kind);

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gsyncd-dispatch-'));
  root = path.join(tmp, 'data');
  fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
  fs.mkdirSync(path.join(tmp, 'outside'));
  fs.symlinkSync(path.join(tmp, 'outside'), path.join(root, 'escape'));
  fs.symlinkSync('sub', path.join(root, 'inner'));
  fs.symlinkSync(path.join(tmp, 'nowhere'), path.join(root, 'dangling'));
  policy = { root, allowVolumes: ['gv0'], gsyncdArgv: ['/usr/bin/node', '/opt/gsyncd/bin/gsyncd.js'], rsyncPath: '/usr/bin/rsync' };
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('decideDispatch: what is refused', () => {
  it('an interactive shell (no command)', () => {
    assert.equal(reasonOf(decide(undefined)), 'forbidden_command');
    assert.equal(reasonOf(decide('   ')), 'forbidden_command');
  });

  it('other programs, shells and shell tricks', () => {
    for (const cmd of ['sh -c id', 'bash', '/bin/sh -c "gsyncd --slave /data"', 'scp -t /data', 'cat /etc/passwd', 'sftp-server', 'gluster volume info', 'rsync;id', 'gsyncd;id --slave']) {
      assert.equal(reasonOf(decide(cmd)), 'forbidden_command', cmd);
    }
  });

  it('a NUL byte', () => {
    assert.equal(reasonOf(decide('rsync --server . /da\0ta')), 'nul_byte');
  });

  it('gsyncd not in slave mode, or with options outside the safe subset', () => {
    assert.equal(reasonOf(decide('gsyncd /data /mirror')), 'forbidden_command');
    assert.equal(reasonOf(decide('gsyncd --config-set x y')), 'bad_option');
    for (const opt of ['-c /etc/x.conf', '--log-file /etc/cron.d/x', '--rsync-command /bin/sh', '--state-dir /etc', '--timeout ;id', '--log-level=verbose', '--sync-jobs 0', '--pid-file /etc/x']) {
      assert.equal(reasonOf(decide(`gsyncd --slave ${opt} /data`)), 'bad_option', opt);
    }
    assert.equal(reasonOf(decide('gsyncd --slave /data /other')), 'bad_option');
  });

  it('a gluster volume that is not allowed', () => {
    assert.equal(reasonOf(decide('gsyncd --slave gluster://localhost:secret')), 'forbidden_command');
  });

  it('rsync other than a receiving server', () => {
    assert.equal(reasonOf(decide('rsync -a /etc host:/x')), 'forbidden_command');
    assert.equal(reasonOf(decide('rsync --server --sender -logDtpRe.LsfxCIvu . /data/')), 'forbidden_command');
    assert.equal(reasonOf(decide('rsync --server -slogDtpRSe.LsfxCIvu')), 'bad_option'); // protect-args: real args come over the wire
  });

  it('rsync with a remote shell or dangerous options', () => {
    const base = '--server -logDtpRSe.LsfxCIvu';
    for (const opt of ['-e sh', '-e', '--rsh=sh', '-logDtpRSesh', '--rsync-path=/tmp/x', '--delete', '--delete-after', '--remove-source-files',
      '--files-from=/etc/passwd', '--log-file=/etc/x', '--backup-dir=/etc', '-b', '--temp-dir=/etc', '--temp-dir /etc', '--partial-dir=../../x',
      '-K', '--keep-dirlinks', '-f merge', '--filter=merge./x', '--include-from=/etc/shadow', '--iconv=x', '-T/etc', '--write-devices', '--protect-args', '--secluded-args', '--old-args', '--daemon', '--config=/x', '--timeout=x']) {
      const d = decide(`rsync ${base} ${opt} . /data/`.replace('/data/', `${root}/`));
      assert.equal(d.kind, 'refuse', opt);
    }
  });

  it('rsync targets outside the root', () => {
    assert.equal(reasonOf(decide(`rsync --server -logDtpRSe.LsfxCIvu . ${root}/../etc`)), 'path_escape');
    assert.equal(reasonOf(decide('rsync --server -logDtpRSe.LsfxCIvu . /etc/')), 'absolute_path');
    assert.equal(reasonOf(decide('rsync --server -logDtpRSe.LsfxCIvu . /')), 'absolute_path');
    assert.equal(reasonOf(decide(`rsync --server -logDtpRSe.LsfxCIvu . ${root}x`)), 'absolute_path');
    assert.equal(reasonOf(decide('rsync --server -logDtpRSe.LsfxCIvu . ../x')), 'path_escape');
    assert.equal(reasonOf(decide('rsync --server -logDtpRSe.LsfxCIvu . /data/../etc', { ...policy, root: '/data' })), 'path_escape');
  });

  it('an rsync target through a symlink inside the root that points out', () => {
    assert.equal(reasonOf(decide(`rsync --server -logDtpRSe.LsfxCIvu . ${root}/escape/`)), 'path_escape');
    assert.equal(reasonOf(decide(`rsync --server -logDtpRSe.LsfxCIvu . ${root}/escape/new/dir`)), 'path_escape');
    assert.equal(reasonOf(decide(`rsync --server -logDtpRSe.LsfxCIvu . ${root}/dangling/x`)), 'path_escape');
    assert.equal(reasonOf(decide(`rsync --server -logDtpRSe.LsfxCIvu --temp-dir=${root}/escape . ${root}/`)), 'path_escape');
  });

  it('rsync into a gluster aux mount that is not mounted or not an allowed volume', () => {
    const mnt = path.join(tmp, 'gsyncd-aux-mount-abc');
    fs.mkdirSync(mnt);
    const p = { ...policy, auxMountParents: [tmp] };
    assert.equal(decide(`rsync --server -logDtpRSe.LsfxCIvu . ${mnt}/`, p, probe('')).kind, 'refuse');
    assert.equal(decide(`rsync --server -logDtpRSe.LsfxCIvu . ${mnt}/`, p, probe(`localhost:other ${mnt} fuse.glusterfs rw 0 0\n`)).kind, 'refuse');
    assert.equal(decide(`rsync --server -logDtpRSe.LsfxCIvu . ${mnt}/`, p, probe(`localhost:gv0 ${mnt} ext4 rw 0 0\n`)).kind, 'refuse');
  });
});

describe('decideDispatch: what is let through', () => {
  it('gsyncd --slave with the root forced to the configured one', () => {
    const d = decide('gsyncd --slave /etc');
    assert.deepEqual(d, { kind: 'slave', argv: [...policy.gsyncdArgv, '--slave', root] });
    assert.deepEqual(decide('/usr/local/bin/gsyncd.js --listen --timeout 120 --sync-jobs 4 --log-level=DEBUG -N file:///x'),
      { kind: 'slave', argv: [...policy.gsyncdArgv, '--slave', '--timeout', '120', '--sync-jobs', '4', '--log-level', 'debug', root] });
    assert.deepEqual(decide('gsyncd --slave'), { kind: 'slave', argv: [...policy.gsyncdArgv, '--slave', root] });
  });

  it('the program name the master uses (--remote-gsyncd) when configured', () => {
    assert.equal(decide('/nonexistent/gsyncd --slave /x').kind, 'slave');
    assert.equal(decide('/opt/bin/geo-sync --slave /x').kind, 'refuse');
    assert.equal(decide('/opt/bin/geo-sync --slave /x', { ...policy, programNames: ['geo-sync'] }).kind, 'slave');
  });

  it("the master's default --remote-gsyncd: node and the bin script by absolute path", () => {
    assert.deepEqual(decide('/usr/local/bin/node /opt/gsyncd/bin/gsyncd.js --slave --timeout 120 file:///x'),
      { kind: 'slave', argv: [...policy.gsyncdArgv, '--slave', '--timeout', '120', root] });
    // Only node running gsyncd: node with another script, or a bare node, stays refused.
    assert.equal(decide('/usr/bin/node /tmp/evil.js --slave /x').kind, 'refuse');
    assert.equal(decide('node -e process.exit(0)').kind, 'refuse');
    assert.equal(decide('node').kind, 'refuse');
  });

  it('an allowed gluster volume', () => {
    for (const url of ['gluster://localhost:gv0', ':gv0', 'gluster://node1:gv0']) {
      assert.deepEqual(decide(`gsyncd --slave --timeout 60 ${url}`), { kind: 'slave', argv: [...policy.gsyncdArgv, '--slave', '--timeout', '60', 'gluster://localhost:gv0'] });
    }
  });

  it('the rsync server lines gsyncd produces (observed)', () => {
    for (const line of OBSERVED) {
      const cmd = line.replace('/data/', `${root}/`);
      const d = decide(cmd);
      assert.equal(d.kind, 'rsync', line);
      assert.deepEqual(d.kind === 'rsync' && d.argv, ['/usr/bin/rsync', ...cmd.split(' ').slice(1)]);
    }
    const d = decide(`rsync --server -ldogDtpcRSe.LsfxCIvu --no-r --compress-level=3 --timeout=30 --stats --numeric-ids --temp-dir ${root}/sub --no-implied-dirs . ${root}/sub/`);
    assert.equal(d.kind, 'rsync');
    assert.ok(d.kind === 'rsync' && d.argv.includes(`--temp-dir=${root}/sub`));
  });

  it('targets below the root, relative ones and symlinks that stay inside', () => {
    assert.deepEqual(decide(`rsync --server -logDtpRSe.LsfxCIvu . ${root}/inner/`), { kind: 'rsync', argv: ['/usr/bin/rsync', '--server', '-logDtpRSe.LsfxCIvu', '.', `${fs.realpathSync(root)}/sub/`] });
    assert.deepEqual(decide('rsync --server -logDtpRSe.LsfxCIvu . new/dir'), { kind: 'rsync', argv: ['/usr/bin/rsync', '--server', '-logDtpRSe.LsfxCIvu', '.', `${fs.realpathSync(root)}/new/dir`] });
  });

  it('an aux mount of an allowed volume', () => {
    const mnt = path.join(tmp, 'gsyncd-aux-mount-ok');
    fs.mkdirSync(mnt);
    const p = { ...policy, auxMountParents: [tmp] };
    const d = decide(`rsync --server -logDtpRSe.LsfxCIvu . ${mnt}/`, p, probe(`localhost:/gv0 ${mnt} fuse.glusterfs rw,user_id=0 0 0\n`));
    assert.equal(d.kind, 'rsync');
    assert.deepEqual(allowedVolumeMounts(`h:gv0 /tmp/gsyncd-aux-mount-a\\040b fuse.glusterfs rw 0 0\nh:gv1 /tmp/gsyncd-aux-mount-c fuse.glusterfs rw 0 0\n`, { ...policy, auxMountParents: ['/tmp'] }), ['/tmp/gsyncd-aux-mount-a b']);
  });
});

describe('decideDispatch: fuzz', () => {
  const words = ['gsyncd', 'rsync', '/usr/bin/rsync', 'gsyncd.js', 'sh', '--server', '--sender', '--slave', '--listen', '.', '..', '/', '/data', '/data/', '/etc', '-e', '-e.LsfxCIvu',
    '-logDtpRSe.LsfxCIvu', '--timeout', '10', '--temp-dir', '--inplace', '--delete', ':gv0', 'gluster://localhost:gv0', '-N', '--log-level', 'debug', '--rsh=ssh', '\0', ';', '|', '$(id)'];
  const word = fc.oneof(fc.constantFrom(...words), fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }));
  it('random argv vectors never throw and give only slave, rsync or refuse', () => {
    fc.assert(fc.property(fc.array(word, { maxLength: 10 }), fc.constantFrom(' ', '  ', '\t'), (argv, sep) => {
      const d = decideDispatch(argv.join(sep), policy, probe());
      assert.ok(['slave', 'rsync', 'refuse'].includes(d.kind));
      if (d.kind === 'refuse') assert.ok(['forbidden_command', 'path_escape', 'absolute_path', 'nul_byte', 'bad_option'].includes(d.reason));
      if (d.kind === 'rsync') {
        const target = d.argv.at(-1)!;
        assert.ok(target === fs.realpathSync(root) || target.startsWith(`${fs.realpathSync(root)}/`), target);
        assert.ok(!d.argv.includes('--sender') && !d.argv.some((a) => a.startsWith('--rsh') || a === '-e'));
      }
      if (d.kind === 'slave') assert.ok(d.argv.at(-1) === root || d.argv.at(-1) === 'gluster://localhost:gv0');
    }), { numRuns: 10_000 });
  });
});

describe('runDispatch', () => {
  it('refuses with one line on stderr and status 1', async () => {
    let err = '';
    const code = await runDispatch({ SSH_ORIGINAL_COMMAND: 'sh -c id' }, policy, { stderr: (t) => { err += t; } });
    assert.equal(code, 1);
    assert.match(err, /^gsyncd: refused: .*not allowed/);
  });

  it("runs the decision with the child's exit status", async () => {
    const p = { ...policy, gsyncdArgv: [process.execPath, '-e', 'process.exit(process.argv.at(-1).endsWith("data") ? 7 : 3)', '--'] };
    assert.equal(await runDispatch({ SSH_ORIGINAL_COMMAND: 'gsyncd --slave /x', PATH: process.env['PATH'] }, p), 7);
  });

  it('parses its own command line', () => {
    const p = parseDispatchArgs(['--root', '/data', '--allow-volume=gv0', '--allow-volume', 'gv1', '--rsync-path', '/usr/bin/rsync']);
    assert.equal(p.root, '/data');
    assert.deepEqual(p.allowVolumes, ['gv0', 'gv1']);
    assert.equal(p.rsyncPath, '/usr/bin/rsync');
    assert.throws(() => parseDispatchArgs([]), /--root/);
    assert.throws(() => parseDispatchArgs(['--root', '/d', '--bogus']), /unknown/);
  });
});

describe('dispatch: the receiver-side xattr filters of --sync-xattrs', () => {
  it('accepts exactly the two filters, escaped as rsync sends them or plain, and passes them unescaped', () => {
    const d = decide(`rsync --server -logDtpXAre.iLsfxCIvu --filter=-x_user.gsyncd.\\* --filter=-x\\!_user.\\* . sub/`);
    assert.equal(d.kind, 'rsync', JSON.stringify(d));
    assert.ok(d.kind === 'rsync' && d.argv.includes('--filter=-x_user.gsyncd.*') && d.argv.includes('--filter=-x!_user.*'), JSON.stringify(d));
    const plain = decide('rsync --server -logDtpXAre.iLsfxCIvu --filter=-x_user.gsyncd.* . sub/');
    assert.equal(plain.kind, 'rsync');
  });
  it('refuses any other filter (merge rules can read files)', () => {
    for (const f of ['--filter=merge_/etc/passwd', '--filter=-x_trusted.*', '--filter=._/etc/shadow', '--filter=-x_user.\\*']) {
      assert.equal(decide(`rsync --server -logDtpre.iLsfxCIvu ${f} . sub/`).kind, 'refuse', f);
    }
  });
});
