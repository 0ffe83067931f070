// The tar stream's pure parts: both ends' arguments, the receiving command for a local and a
// remote slave, the names in tar's messages, and how a stream ended.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bridgeAllows } from '../../../src/transport/rsh-server.js';
import { classifyTarStream, parseTarMessage, tarBytesWritten } from '../../../src/transport/tar-exit.js';
import { splitRemoteDest, tarCreateArgs, tarExtractArgs, tarReceiverArgv, type TarConfig } from '../../../src/transport/tar.js';

const cfg: TarConfig = { command: ['tar'], xattrs: true, acls: true, sparse: false };
const FAIL = 'tar: Exiting with failure status due to previous errors';

describe('tar arguments', () => {
  it('creates from a NUL list, verbatim names, no recursion, posix format, user xattrs and ACLs', () => {
    const args = tarCreateArgs(cfg);
    for (const a of ['--create', '--file=-', '--format=posix', '--numeric-owner', '--no-recursion', '--hard-dereference', '--null', '--verbatim-files-from',
      '--xattrs', '--xattrs-include=user.*', '--xattrs-exclude=user.gsyncd.*', '--acls', '--totals', '--quoting-style=escape']) assert.ok(args.includes(a), a);
    // Positional options must come before the list they apply to.
    assert.equal(args.at(-1), '--files-from=-');
    assert.ok(!args.includes('--sparse'));
    assert.ok(tarCreateArgs({ ...cfg, sparse: true }).includes('--sparse'));
    const bare = tarCreateArgs({ ...cfg, xattrs: false, acls: false });
    assert.ok(!bare.some((a) => a.startsWith('--xattrs') || a === '--acls'));
  });

  it('extracts from stdin into the directory, owners only when the receiver may set them', () => {
    assert.deepEqual(tarExtractArgs(cfg, '/s', true), ['--extract', '--file=-', '--directory=/s', '--numeric-owner', '--preserve-permissions', '--quoting-style=escape', '--same-owner', '--xattrs', '--acls']);
    assert.ok(tarExtractArgs(cfg, '/s', false).includes('--no-same-owner'));
    assert.ok(!tarExtractArgs(cfg, '/s', true).some((a) => /absolute|to-command|transform|compress/.test(a)));
  });

  it('finds the host in rsync destinations', () => {
    assert.deepEqual(splitRemoteDest('host:/data'), { host: 'host', path: '/data' });
    assert.deepEqual(splitRemoteDest('root@10.0.0.2:/data/x'), { host: 'root@10.0.0.2', path: '/data/x' });
    assert.deepEqual(splitRemoteDest('[fe80::1]:/data'), { host: '[fe80::1]', path: '/data' });
    assert.equal(splitRemoteDest('/local/dir'), null);
    assert.equal(splitRemoteDest('/local/a:b'), null);
  });

  it('runs tar locally, or through the rsh with the host first', () => {
    assert.deepEqual(tarReceiverArgv(cfg, { dest: '/s' }, 0).slice(0, 4), ['tar', '--extract', '--file=-', '--directory=/s']);
    assert.ok(tarReceiverArgv(cfg, { dest: '/s' }, 1000).includes('--no-same-owner'));
    const remote = tarReceiverArgv(cfg, { dest: 'root@h:/data', rsh: 'ssh -p 2222 -oBatchMode=yes' }, 1000);
    assert.deepEqual(remote.slice(0, 7), ['ssh', '-p', '2222', '-oBatchMode=yes', 'root@h', 'tar', '--extract']);
    assert.ok(remote.includes('--directory=/data') && remote.includes('--same-owner'));
    assert.ok(tarReceiverArgv(cfg, { dest: 'h:/data', rsh: 'perl b.pl sock', unprivileged: true }, 0).includes('--no-same-owner'));
    assert.throws(() => tarReceiverArgv(cfg, { dest: 'h:/da ta', rsh: 'ssh' }, 0), /quoting/);
    assert.throws(() => tarReceiverArgv(cfg, { dest: '/no-host', rsh: 'ssh' }, 0), /host/);
  });

  it('lets the session bridge run a receiving tar as well as rsync, nothing else', () => {
    assert.ok(bridgeAllows(['tar', '--extract', '--file=-']));
    assert.ok(bridgeAllows(['rsync', '--server', '.']));
    assert.ok(!bridgeAllows(['tar', '--create']));
    assert.ok(!bridgeAllows(['sh', '-c', 'id']));
  });
});

describe('tar messages', () => {
  it('unescapes names: octal bytes, newline, backslash, colon', () => {
    assert.deepEqual(parseTarMessage('tar: a b: Cannot open: Permission denied'), ['a b', 'Cannot open: Permission denied']);
    assert.deepEqual(parseTarMessage('tar: d/new\\nline: Cannot stat: No such file or directory'), ['d/new\nline', 'Cannot stat: No such file or directory']);
    assert.deepEqual(parseTarMessage('tar: bad\\377\\376name: Cannot stat: No such file or directory')?.[0], 'bad\xff\xfename');
    assert.deepEqual(parseTarMessage('tar: x\\:y\\\\z: File removed before we read it'), ['x:y\\z', 'File removed before we read it']);
    assert.equal(parseTarMessage('gsyncd: refused: tar --extract is not allowed'), null);
    assert.equal(parseTarMessage('tar: Unexpected EOF in archive'), null);
  });

  it('reads the bytes written from --totals', () => {
    assert.equal(tarBytesWritten('Total bytes written: 20480 (20KiB, 15MiB/s)\n'), 20480);
    assert.equal(tarBytesWritten(''), 0);
  });
});

describe('classifyTarStream', () => {
  const paths = ['a', 'd/b', 'd/c', '-dash'];
  const ok = { code: 0, stderr: '' };

  it('is ok when both ends exit 0, warnings or not', () => {
    assert.deepEqual(classifyTarStream(ok, { code: 0, stderr: 'tar: a: time stamp 2030-01-01 is 1 s in the future\n' }, paths), { result: 'ok', vanished: [], failed: [] });
  });

  it('fails a member tar skipped with exit 0 (it became a socket since the listing)', () => {
    assert.deepEqual(classifyTarStream({ code: 0, stderr: 'tar: d/c: socket ignored\n' }, ok, paths), { result: 'partial', vanished: [], failed: ['d/c'] });
  });

  it('pins files gone on the master (exit 2 for a listed file, 1 for one removed or changed while read)', () => {
    const gone = { code: 2, stderr: `tar: d/b: Cannot stat: No such file or directory\nTotal bytes written: 10240 (10KiB, 1MiB/s)\n${FAIL}\n` };
    assert.deepEqual(classifyTarStream(gone, ok, paths), { result: 'vanished', vanished: ['d/b'], failed: [] });
    const changed = { code: 1, stderr: 'tar: -dash: file changed as we read it\ntar: a: File removed before we read it\n' };
    assert.deepEqual(classifyTarStream(changed, ok, paths), { result: 'vanished', vanished: ['-dash', 'a'], failed: [] });
    const shrank = { code: 1, stderr: 'tar: a: File shrank by 10 bytes; padding with zeros\n' };
    assert.equal(classifyTarStream(shrank, ok, paths).result, 'vanished');
  });

  it('pins what the master could not read or the slave could not write as failed', () => {
    const unreadable = { code: 2, stderr: `tar: a: Cannot open: Permission denied\n${FAIL}\n` };
    assert.deepEqual(classifyTarStream(unreadable, ok, paths), { result: 'partial', vanished: [], failed: ['a'] });
    const refused = { code: 2, stderr: `tar: d/c: Cannot open: No space left on device\ntar: d: Cannot utime: Operation not permitted\n${FAIL}\n` };
    const both = classifyTarStream({ code: 2, stderr: 'tar: a: Cannot stat: No such file or directory\n' }, refused, paths);
    assert.deepEqual(both, { result: 'partial', vanished: ['a'], failed: ['d/c', 'd/b'] });
  });

  it('fails the whole stream for what it cannot pin', () => {
    const whole = { result: 'error', vanished: [], failed: paths };
    // The slave's dispatcher refused the receiver: the creator's pipe broke.
    assert.deepEqual(classifyTarStream({ code: 2, stderr: 'tar: -: Cannot write: Broken pipe\n' }, { code: 1, stderr: 'gsyncd: refused: tar --extract is not allowed\n' }, paths), whole);
    assert.deepEqual(classifyTarStream(ok, { code: 2, stderr: 'tar: Unexpected EOF in archive\ntar: Error is not recoverable: exiting now\n' }, paths), whole);
    assert.deepEqual(classifyTarStream({ code: 2, stderr: 'tar: elsewhere: Cannot stat: No such file or directory\n' }, ok, paths), whole);
    assert.deepEqual(classifyTarStream({ code: 2, stderr: '' }, ok, paths), whole);
    assert.deepEqual(classifyTarStream(ok, { code: 255, stderr: '' }, paths), whole);
    assert.deepEqual(classifyTarStream({ code: null, stderr: 'Error: spawn tar ENOENT' }, ok, paths), whole);
    assert.deepEqual(classifyTarStream({ code: 2, stderr: 'tar: a: Cannot stat: No such file or directory\n' }, ok, paths, true), whole);
  });
});
