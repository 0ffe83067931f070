// RemoteSlave ↔ serveSlave in-process over a pair of pipes: the master's endpoint and the slave's
// RPC surface together, without a child process (test/integration/slave-mode.test.ts has those).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { isGsyncdError } from '../../../src/core/errors.js';
import { slaveMarkKey } from '../../../src/gluster/xattr-names.js';
import type { RpcCloseReason } from '../../../src/protocol/messages.js';
import { serveSlave } from '../../../src/slave/rpc-server.js';
import { SlaveServer } from '../../../src/slave/server.js';
import { RemoteSlave } from '../../../src/transport/remote-slave.js';
import { RpcClient } from '../../../src/transport/rpc.js';

function memLog() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => { lines.push({ level, obj, msg }); };
  return { lines, log: { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') } as never };
}

let tmp: string;
let root: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gsyncd-remote-'));
  root = path.join(tmp, 'root');
  fs.mkdirSync(root);
  fs.mkdirSync(path.join(tmp, 'outside'));
  fs.symlinkSync(path.join(tmp, 'outside'), path.join(root, 'link'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function session(timeoutSec = 0) {
  const toSlave = new PassThrough();
  const toMaster = new PassThrough();
  const mem = memLog();
  const served: Promise<RpcCloseReason> = serveSlave(toSlave, toMaster, new SlaveServer(root), { timeoutSec, concurrency: 3, log: mem.log, rsyncTarget: root });
  return { toSlave, toMaster, served, lines: mem.lines };
}

const markKey = slaveMarkKey('0a1b2c3d-0000-4000-8000-000000000001');

describe('RemoteSlave over serveSlave', () => {
  it('handshake, identity, list, apply, readMark', async () => {
    const s = session();
    const slave = await RemoteSlave.connect({ readable: s.toMaster, writable: s.toSlave }, {
      timeoutSec: 0, description: 'test', rsync: (t) => ({ dest: `host:${t}`, rsh: 'bridge' }), session: 'sess',
    });
    assert.equal(slave.hello.protocol, 1);
    assert.equal(slave.hello.rsyncTarget, root);
    assert.equal(slave.hello.pid, process.pid);
    assert.deepEqual(slave.rsyncTarget(), { dest: `host:${root}`, rsh: 'bridge' });
    assert.deepEqual(await slave.identity(), await new SlaveServer(root).identity());
    const name = Buffer.from([0x64, 0xff, 0xe9]).toString('latin1');
    const results = await slave.apply([
      { op: 'mkdir', path: 'd', mode: 0o755, uid: process.getuid!(), gid: process.getgid!() },
      { op: 'mkdir', path: `d/${name}`, mode: 0o700, uid: process.getuid!(), gid: process.getgid!() },
      { op: 'mark', path: 'd', xtime: { sec: 1700000000, usec: 5 } },
    ], markKey);
    assert.deepEqual(results, [{ ok: true }, { ok: true }, { ok: true }]);
    assert.ok(fs.statSync(path.join(root, 'd')).isDirectory());
    const list = await slave.list('d', markKey);
    assert.deepEqual(list?.map((e) => [e.name, e.type, e.mode]), [[name, 'dir', 0o700]]);
    const top = await slave.list('', markKey);
    assert.deepEqual(top?.find((e) => e.name === 'd')?.mark, { sec: 1700000000, usec: 5 });
    assert.deepEqual(await slave.readMark('d', markKey), { sec: 1700000000, usec: 5 });
    assert.equal(await slave.list('absent', markKey), null);
    assert.deepEqual(await slave.apply([], markKey), []);
    await slave.close();
    assert.equal((await s.served).kind, 'eof');
  });

  it('refuses unsafe paths with an error reply (and a warn log), the session stays up', async () => {
    const s = session();
    const slave = await RemoteSlave.connect({ readable: s.toMaster, writable: s.toSlave }, { timeoutSec: 0, description: 't', rsync: (t) => ({ dest: t }) });
    for (const [dir, refusal] of [['../x', 'path_escape'], ['/etc/passwd', 'absolute_path'], ['a\0b', 'nul_byte'], ['link/x', 'symlink_escape']] as const) {
      await assert.rejects(slave.list(dir, markKey), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_UNSAFE_PATH') && (err as { refusal?: string }).refusal === refusal, dir);
      await assert.rejects(slave.readMark(dir, markKey), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_UNSAFE_PATH'));
    }
    const results = await slave.apply([
      { op: 'mkdir', path: '../escaped', mode: 0o755, uid: 0, gid: 0 },
      { op: 'delete', path: 'link/victim', type: 'file' },
      { op: 'rename', from: 'a', to: '/etc/x' },
    ], markKey);
    assert.ok(results.every((r) => !r.ok && r.errno === 'GSYNCD_ERR_UNSAFE_PATH'));
    assert.ok(!fs.existsSync(path.join(tmp, 'escaped')));
    const warns = s.lines.filter((l) => l.level === 'warn');
    assert.ok(warns.some((l) => l.obj['refusal'] === 'path_escape'));
    assert.ok(warns.some((l) => l.obj['refusal'] === 'symlink_escape' && l.obj['method'] === 'apply'));
    assert.ok((await slave.list('', markKey)) !== null, 'still serving');
    await slave.close();
  });

  it('type-checks parameters before they reach the slave server', async () => {
    const s = session();
    const client = new RpcClient(s.toMaster, s.toSlave);
    await assert.rejects(client.call('list', { dir: '', markKey }), (err: unknown) => /hello must be the first call/.test((err as Error).message));
    await assert.rejects(client.call('hello', { protocol: 2, client: 'gsyncd' }), (err: unknown) => /protocol version mismatch \(master 2, slave 1\)/.test((err as Error).message));
    await client.hello();
    const bad: [string, unknown][] = [
      ['list', { dir: 1, markKey }],
      ['list', { dir: '', markKey: 'security.capability' }],
      ['list', null],
      ['readMark', { dir: '', markKey: 'trusted.glusterfs.x.xtime' }],
      ['apply', { ops: 'nope', markKey }],
      ['apply', { ops: [{ op: 'chmod', path: 'x' }], markKey }],
      ['apply', { ops: [{ op: 'mkdir', path: 'x', mode: -1, uid: 0, gid: 0 }], markKey }],
      ['apply', { ops: [{ op: 'mark', path: 'x', xtime: { sec: 1 } }], markKey }],
      ['apply', { ops: [{ op: 'setattr', path: 'x', mtime: [1] }], markKey }],
      ['apply', { ops: [{ op: 'delete', path: 'x', type: 'socket' }], markKey }],
    ];
    for (const [method, params] of bad) {
      await assert.rejects(client.call(method, params), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_RPC') && /bad parameters/.test((err as Error).message), `${method} ${JSON.stringify(params)}`);
    }
    assert.deepEqual(await client.call('keepAlive'), { count: 1 });
    client.close();
    assert.equal((await s.served).kind, 'eof');
  });

  it('the slave uses its own mark namespace whatever the master sends', async () => {
    const s = session();
    const slave = await RemoteSlave.connect({ readable: s.toMaster, writable: s.toSlave }, { timeoutSec: 0, description: 't', rsync: (t) => ({ dest: t }) });
    fs.mkdirSync(path.join(root, 'ns'));
    const other = markKey.startsWith('trusted.') ? markKey.replace(/^trusted\./, 'user.') : markKey.replace(/^user\./, 'trusted.');
    assert.deepEqual(await slave.apply([{ op: 'mark', path: 'ns', xtime: { sec: 7, usec: 0 } }], other), [{ ok: true }]);
    assert.deepEqual(await slave.readMark('ns', markKey), { sec: 7, usec: 0 });
    await slave.close();
  });

  it('an apply reply of the wrong length is a protocol error', async () => {
    const toSlave = new PassThrough();
    const toMaster = new PassThrough();
    const { RpcServer } = await import('../../../src/transport/rpc.js');
    const hello = { protocol: 1, capabilities: [], identity: { root: '/r', rootDev: '1', rootIno: '1' }, rsyncTarget: '/r', pid: 1 };
    new RpcServer(toSlave, toMaster, { async hello() { return hello; }, async apply() { return [{ ok: true }]; } });
    const slave = await RemoteSlave.connect({ readable: toMaster, writable: toSlave }, { timeoutSec: 0, description: 't', rsync: (t) => ({ dest: t }) });
    await assert.rejects(slave.apply([{ op: 'delete', path: 'a', type: 'file' }, { op: 'delete', path: 'b', type: 'file' }], markKey), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_RPC'));
    await slave.close();
  });

  it('a protocol mismatch fails connect and releases the streams', async () => {
    const toSlave = new PassThrough();
    const toMaster = new PassThrough();
    const { RpcServer } = await import('../../../src/transport/rpc.js');
    new RpcServer(toSlave, toMaster, { async hello() { return { protocol: 2 }; } });
    let released = false;
    await assert.rejects(RemoteSlave.connect({ readable: toMaster, writable: toSlave }, { timeoutSec: 0, description: 't', rsync: (t) => ({ dest: t }), release: async () => { released = true; } }),
      (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_RPC') && (err as Error).message === 'protocol version mismatch (master 1, slave 2)');
    assert.ok(released);
    assert.ok(toSlave.writableEnded);
  });
});
