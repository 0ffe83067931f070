// Slave mode as a real child process (`gsyncd --slave ROOT` run from source through tsx), spoken
// to over its stdin/stdout as a master does: handshake, listing and entry ops, path refusals,
// protocol violations, EOF and the keep-alive watchdog.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isGsyncdError } from '../../src/core/errors.js';
import { slaveMarkKey } from '../../src/gluster/xattr-names.js';
import { encodeFrame, FrameDecoder } from '../../src/protocol/frame.js';
import { spawnLocalSlave } from '../../src/transport/remote-slave.js';
import { RpcClient } from '../../src/transport/rpc.js';
import { tmpDir } from '../support/proc.js';

const repo = path.resolve(import.meta.dirname, '../..');
const GSYNCD = [process.execPath, '--import', 'tsx', path.join(repo, 'test/fixtures/gsyncd-tsx.ts')];
const markKey = slaveMarkKey('11111111-2222-4333-8444-555555555555');

interface Child {
  readonly stdin: NodeJS.WritableStream & { end(b?: Buffer): void };
  readonly stdout: NodeJS.ReadableStream;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; ms: number }>;
}

function spawnSlave(args: string[]): Child {
  const started = Date.now();
  const child = spawn(GSYNCD[0]!, [...GSYNCD.slice(1), '--slave', ...args], { stdio: ['pipe', 'pipe', 'pipe'], cwd: repo });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  child.stdin.on('error', () => {});
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; ms: number }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stderr, ms: Date.now() - started }));
  });
  return { stdin: child.stdin, stdout: child.stdout, exit };
}

/** Not an uncaught exception: our logged reason, no stack trace. */
function assertCleanFailure(stderr: string, reason: RegExp) {
  assert.match(stderr, reason);
  assert.doesNotMatch(stderr, /^\s+at .+:\d+:\d+\)?$/m, `stack trace in stderr:\n${stderr}`);
  assert.doesNotMatch(stderr, /Uncaught|unhandled|node:internal/i);
}

let root: string;
let outside: string;

describe('gsyncd --slave as a child process', { timeout: 120_000 }, () => {
  before(async () => {
    const base = await tmpDir('slave-mode');
    root = path.join(base, 'root');
    outside = path.join(base, 'outside');
    fs.mkdirSync(root);
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'victim'), 'keep me');
    fs.symlinkSync(outside, path.join(root, 'out'));
  });

  it('handshake, list/apply/readMark round trip, refusals keep the session up, EOF exits 0', async () => {
    const logLines: string[] = [];
    const log = {
      trace() {}, debug() {}, info() {}, warn() {},
      error: (_o: object, msg: string) => { logLines.push(msg); },
      fatal() {},
    } as never;
    const slave = await spawnLocalSlave(GSYNCD, root, { timeoutSec: 30, syncJobs: 2, session: 'it', log, cwd: repo });
    assert.equal(slave.hello.protocol, 1);
    assert.equal(slave.hello.rsyncTarget, fs.realpathSync(root));
    assert.notEqual(slave.hello.pid, process.pid);
    assert.deepEqual(slave.rsyncTarget(), { dest: fs.realpathSync(root) });
    assert.equal((await slave.identity()).rootIno, String(fs.statSync(root, { bigint: true }).ino));

    const me = { uid: process.getuid!(), gid: process.getgid!() };
    const results = await slave.apply([
      { op: 'mkdir', path: 'a', mode: 0o755, ...me },
      { op: 'mkdir', path: 'a/b', mode: 0o750, ...me },
      { op: 'rename', from: 'a/b', to: 'a/c' },
      { op: 'mark', path: 'a', xtime: { sec: 1234, usec: 56 } },
      { op: 'mkdir', path: '../escaped', mode: 0o755, ...me },
      { op: 'delete', path: 'out/victim', type: 'file' },
      { op: 'setattr', path: '/etc/passwd', mode: 0o777 },
    ], markKey);
    assert.deepEqual(results.slice(0, 4), [{ ok: true }, { ok: true }, { ok: true }, { ok: true }]);
    for (const r of results.slice(4)) assert.ok(!r.ok && r.errno === 'GSYNCD_ERR_UNSAFE_PATH', JSON.stringify(r));
    assert.ok(fs.existsSync(path.join(outside, 'victim')), 'nothing outside the root was touched');
    assert.ok(!fs.existsSync(path.join(path.dirname(root), 'escaped')));

    assert.deepEqual((await slave.list('a', markKey))?.map((e) => [e.name, e.type, e.mode]), [['c', 'dir', 0o750]]);
    assert.deepEqual((await slave.list('', markKey))?.find((e) => e.name === 'a')?.mark, { sec: 1234, usec: 56 });
    assert.deepEqual(await slave.readMark('a', markKey), { sec: 1234, usec: 56 });
    assert.equal(await slave.readMark('a/c', markKey), null);

    for (const [dir, refusal] of [['../x', 'path_escape'], ['/etc/passwd', 'absolute_path'], ['out/x', 'symlink_escape'], ['a\0b', 'nul_byte']] as const) {
      await assert.rejects(slave.list(dir, markKey), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_UNSAFE_PATH') && (err as { refusal?: string }).refusal === refusal, dir);
      await assert.rejects(slave.readMark(dir, markKey), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_UNSAFE_PATH') && (err as { refusal?: string }).refusal === refusal, dir);
    }
    // `out` itself is a symlink leading out: not followed, it is no directory here.
    assert.equal(await slave.list('out', markKey), null);
    assert.equal(await slave.readMark('out', markKey), null);
    // Still serving.
    assert.ok(Array.isArray(await slave.list('', markKey)));
    await slave.close();
    assert.deepEqual(logLines, [], 'a clean exit logs nothing at error');
  });

  it('EOF from the master → exit 0', async () => {
    const c = spawnSlave([root]);
    c.stdin.end();
    const r = await c.exit;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /end of input from the master/);
  });

  it('logs go to stderr; stdout carries only frames', async () => {
    const c = spawnSlave(['--log-level', 'debug', root]);
    const d = new FrameDecoder();
    const frames: object[] = [];
    let junk: unknown = null;
    c.stdout.on('data', (b: Buffer) => { try { frames.push(...d.push(b)); } catch (err) { junk = err; } });
    c.stdin.write(encodeFrame({ id: 1, method: 'hello', params: { protocol: 1, client: 'gsyncd' } }));
    c.stdin.write(encodeFrame({ id: 2, method: 'keepAlive', params: null }));
    await sleep(1500);
    c.stdin.end();
    const r = await c.exit;
    assert.equal(r.code, 0);
    assert.equal(junk, null);
    assert.equal(frames.length, 2);
    assert.match(r.stderr, /master connected/);
  });

  for (const [name, bytes] of [
    ['random bytes', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['an oversized length', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7b])],
    ['JSON that is not an object', Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from('[]')])],
    ['a frame that is not a request', encodeFrame({ id: 'x' })],
  ] as const) {
    it(`a garbage frame (${name}) closes the session with a logged reason and a non-zero exit`, async () => {
      const c = spawnSlave([root]);
      c.stdin.write(encodeFrame({ id: 1, method: 'hello', params: { protocol: 1, client: 'gsyncd' } }));
      c.stdin.write(bytes);
      const r = await c.exit; // the slave ends by itself, stdin still open
      assert.notEqual(r.code, 0);
      assert.equal(r.signal, null);
      assertCleanFailure(r.stderr, /protocol violation/);
    });
  }

  it('keep-alive watchdog: --timeout 1 and no calls → "connection inactive" after ~1 s', async () => {
    const c = spawnSlave(['--timeout', '1', root]);
    const r = await c.exit;
    assert.equal(r.code, 1);
    assert.ok(r.ms >= 1000 && r.ms < 15_000, `exited after ${r.ms} ms`);
    assertCleanFailure(r.stderr, /connection inactive/);
  });

  it("the master's keep-alive keeps an idle session open", async () => {
    const slave = await spawnLocalSlave(GSYNCD, root, { timeoutSec: 1, cwd: repo });
    await sleep(2500);
    assert.ok(Array.isArray(await slave.list('', markKey)));
    await slave.close();
  });

  it('a missing root: exit 69 with a clear message; spawnLocalSlave reports it', async () => {
    const c = spawnSlave([path.join(root, 'missing')]);
    const r = await c.exit;
    assert.equal(r.code, 69);
    assert.match(r.stderr, /slave root .*missing does not exist/);
    await assert.rejects(spawnLocalSlave(GSYNCD, path.join(root, 'missing'), { timeoutSec: 0, cwd: repo }),
      (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_SLAVE_UNAVAILABLE') && /does not exist/.test((err as Error).message));
  });

  it('a slave that dies mid-session fails pending calls with "connection to peer is broken"', async () => {
    const c = spawnSlave([root]);
    const client = new RpcClient(c.stdout as never, c.stdin as never);
    await client.hello();
    const pending = client.call('keepAlive', null, { timeoutMs: 10_000 });
    await pending;
    c.stdin.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    await assert.rejects(client.call('list', { dir: '', markKey }), (err: unknown) => /connection to peer is broken/.test((err as Error).message));
    await c.exit;
  });
});
