import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isGsyncdError } from '../../../src/core/errors.js';
import { encodeFrame, FrameDecoder } from '../../../src/protocol/frame.js';
import { BROKEN, checkHelloReply } from '../../../src/protocol/messages.js';
import { RpcClient, RpcServer, type RpcHandler } from '../../../src/transport/rpc.js';

/** A log that records what it is told. */
function memLog() {
  const lines: { level: string; obj: object; msg: string }[] = [];
  const at = (level: string) => (obj: object, msg: string) => { lines.push({ level, obj, msg }); };
  const log = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') };
  return { lines, log: log as never };
}

function pair(handlers: Record<string, RpcHandler>, serverOpts: ConstructorParameters<typeof RpcServer>[3] = {}, clientOpts: ConstructorParameters<typeof RpcClient>[2] = {}) {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const server = new RpcServer(toServer, toClient, handlers, serverOpts);
  const client = new RpcClient(toClient, toServer, clientOpts);
  return { server, client, toServer, toClient };
}

describe('rpc', () => {
  it('matches concurrent replies by id, out of order', async () => {
    const { client, server } = pair({
      async echo(p) { const { v, delay } = p as { v: number; delay: number }; await sleep(delay); return v; },
    }, { concurrency: 8 });
    const results = await Promise.all([30, 5, 20, 1, 10].map((delay, v) => client.call('echo', { v, delay })));
    assert.deepEqual(results, [0, 1, 2, 3, 4]);
    client.close();
    assert.equal((await server.closed).kind, 'eof');
  });

  it('limits handlers in flight to the concurrency', async () => {
    let running = 0;
    let peak = 0;
    const { client } = pair({ async work() { running++; peak = Math.max(peak, running); await sleep(5); running--; return null; } }, { concurrency: 3 });
    await Promise.all(Array.from({ length: 20 }, () => client.call('work')));
    assert.equal(peak, 3);
    client.close();
  });

  it('turns handler errors into error replies with code, message and refusal', async () => {
    const { client } = pair({
      async refuse() { throw Object.assign(new Error('unsafe path refused (path_escape): "../x"'), { code: 'GSYNCD_ERR_UNSAFE_PATH', refusal: 'path_escape' }); },
      async errno() { throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' }); },
      async odd() { throw 'a string'; },
    });
    await assert.rejects(client.call('refuse'), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_UNSAFE_PATH') && (err as { refusal?: string }).refusal === 'path_escape');
    await assert.rejects(client.call('errno'), (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOTDIR');
    await assert.rejects(client.call('odd'), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_INTERNAL'));
    await assert.rejects(client.call('nope'), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_RPC') && /unknown method/.test((err as Error).message));
    await assert.rejects(client.call('toString'), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_RPC'));
    assert.equal(await client.call('refuse').catch(() => 'still up'), 'still up');
    client.close();
  });

  it('times out a call that gets no reply, and ignores the late reply', async () => {
    const { client } = pair({ async slow() { await sleep(80); return 1; }, async fast() { return 2; } }, { concurrency: 2 });
    await assert.rejects(client.call('slow', null, { timeoutMs: 20 }), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_RPC') && /timeout/.test((err as Error).message));
    await sleep(100);
    assert.equal(await client.call('fast'), 2);
    assert.equal(client.isClosed, false);
    client.close();
  });

  it('fails every pending call when the peer goes away', async () => {
    const toServer = new PassThrough();
    const toClient = new PassThrough();
    const reasons: string[] = [];
    const client = new RpcClient(toClient, toServer, { onClose: (r) => reasons.push(r.kind) });
    const calls = [client.call('a'), client.call('b')];
    toClient.end();
    for (const c of calls) await assert.rejects(c, (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_RPC') && (err as Error).message.includes(BROKEN));
    await assert.rejects(client.call('c'), (err: unknown) => (err as Error).message.includes(BROKEN));
    assert.deepEqual(reasons, ['eof']);
  });

  it('fails pending calls on a bad frame from the server', async () => {
    const toServer = new PassThrough();
    const toClient = new PassThrough();
    const client = new RpcClient(toClient, toServer);
    const call = client.call('a');
    toClient.write(Buffer.from([0, 0, 0, 3, 0x5b, 0x5d, 0x20]));
    await assert.rejects(call, (err: unknown) => (err as Error).message.includes(BROKEN));
    assert.equal((await client.closed).kind, 'protocol_violation');
  });

  it('server closes the session on a malformed or oversized frame, without throwing', async () => {
    for (const bad of [Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.concat([Buffer.from([0, 0, 0, 4]), Buffer.from('nope')]), encodeFrame({ hello: 1 })]) {
      const { lines, log } = memLog();
      const toServer = new PassThrough();
      const toClient = new PassThrough();
      const server = new RpcServer(toServer, toClient, { async x() { return 1; } }, { log, maxFrame: 1 << 20 });
      toServer.write(bad);
      const reason = await server.closed;
      assert.equal(reason.kind, 'protocol_violation');
      assert.ok(toClient.writableEnded, 'output ended');
      assert.ok(lines.some((l) => l.level === 'error' && /protocol violation/.test(l.msg)));
    }
  });

  it('server answers queued work and then ends after EOF', async () => {
    const toServer = new PassThrough();
    const toClient = new PassThrough();
    const server = new RpcServer(toServer, toClient, { async w() { await sleep(10); return 'done'; } });
    toServer.end(Buffer.concat([encodeFrame({ id: 1, method: 'w', params: null }), encodeFrame({ id: 2, method: 'w' })]));
    const d = new FrameDecoder();
    const replies: object[] = [];
    toClient.on('data', (c: Buffer) => replies.push(...d.push(c)));
    assert.equal((await server.closed).kind, 'eof');
    await sleep(1);
    assert.deepEqual(replies, [{ id: 1, ok: true, result: 'done' }, { id: 2, ok: true, result: 'done' }]);
  });

  it('server watchdog: no request within the timeout closes with "connection inactive"', async () => {
    const { lines, log } = memLog();
    const toServer = new PassThrough();
    const toClient = new PassThrough();
    const started = Date.now();
    const server = new RpcServer(toServer, toClient, {}, { timeoutSec: 0.2, log });
    const reason = await server.closed;
    assert.equal(reason.kind, 'inactive');
    assert.ok(Date.now() - started >= 190);
    assert.ok(lines.some((l) => /connection inactive/.test(l.msg)));
  });

  it('client keep-alive keeps the server watchdog quiet', async () => {
    let count = 0;
    const { client, server } = pair({ async keepAlive() { count++; return null; } }, { timeoutSec: 0.2 });
    client.startKeepAlive(0.2);
    // At least 4 keep-alives (every 100 ms); allow a loaded machine more time to deliver them.
    const deadline = Date.now() + 5000;
    while (count < 4 && Date.now() < deadline) await sleep(50);
    assert.ok(count >= 4, `keepAlive calls: ${count}`);
    let closed = false;
    void server.closed.then(() => { closed = true; });
    assert.equal(closed, false);
    client.close();
    assert.equal((await server.closed).kind, 'eof');
  });

  it('a keep-alive without reply closes the client', async () => {
    const toServer = new PassThrough();
    const toClient = new PassThrough();
    const client = new RpcClient(toClient, toServer);
    const hold = setInterval(() => {}, 1000); // the keep-alive timer is unref'd
    client.startKeepAlive(0.1);
    const pending = client.call('never');
    assert.equal((await client.closed).kind, 'keepalive_failed');
    clearInterval(hold);
    await assert.rejects(pending, (err: unknown) => (err as Error).message.includes(BROKEN));
  });

  it('hello checks the protocol version', async () => {
    const identity = { root: '/x', rootDev: '1', rootIno: '2' };
    const ok = { protocol: 1, capabilities: [], identity, rsyncTarget: '/x', pid: 1 };
    assert.deepEqual(checkHelloReply(ok), ok);
    assert.throws(() => checkHelloReply({ ...ok, protocol: 2 }), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_RPC') && (err as Error).message === 'protocol version mismatch (master 1, slave 2)');
    assert.throws(() => checkHelloReply({ ...ok, rsyncTarget: 'rel' }), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_RPC'));
    const { client } = pair({ async hello(p) { assert.deepEqual(p, { protocol: 1, client: 'gsyncd', session: 's' }); return { ...ok, protocol: 3 }; } });
    await assert.rejects(client.hello({ session: 's' }), (err: unknown) => /protocol version mismatch \(master 1, slave 3\)/.test((err as Error).message));
    client.close();
  });
});
