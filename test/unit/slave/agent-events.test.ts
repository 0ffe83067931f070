// The sending side of the slave agent's events: the fire-and-forget emitter, the session
// instrumentation of `gsyncd --slave` (over a real serveSlave/RemoteSlave pair) and the
// dispatcher's refusal and rsync events.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  agentEmitter, connOf, parseAgentEvent, refusalLabel, sessionLabel, slaveSessionEvents, type AgentEmitter, type AgentEvent,
} from '../../../src/slave/agent-events.js';
import { runDispatch, type DispatchPolicy } from '../../../src/slave/dispatch.js';
import { serveSlave } from '../../../src/slave/rpc-server.js';
import { SlaveServer } from '../../../src/slave/server.js';
import { RemoteSlave } from '../../../src/transport/remote-slave.js';
import type { RpcCloseReason } from '../../../src/protocol/messages.js';
import { slaveMarkKey } from '../../../src/gluster/xattr-names.js';

let tmp: string;
before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gsyncd-agent-events-')); });
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A stand-in agent: a UNIX socket collecting parsed lines. */
async function fakeAgent(socketPath: string) {
  const lines: unknown[] = [];
  const conns = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    conns.add(s);
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) { lines.push(JSON.parse(buf.slice(0, nl))); buf = buf.slice(nl + 1); }
    });
    s.on('close', () => conns.delete(s));
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  return {
    lines,
    get connections() { return connections; },
    async waitFor(n: number, ms = 2000) {
      const end = Date.now() + ms;
      while (lines.length < n && Date.now() < end) await sleep(5);
      return lines;
    },
    async close() {
      for (const s of conns) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** An emitter that records what it is given. */
function recorder(): AgentEmitter & { events: AgentEvent[] } {
  const events: AgentEvent[] = [];
  return { events, emit: (e) => { events.push(e); }, flush: async () => {}, close() {} };
}

describe('parseAgentEvent', () => {
  it('accepts the five event types', () => {
    const ok: unknown[] = [
      { type: 'session', session: 'gv0_b1_gv0b', connected: true, conn: '10.0.0.1 5000' },
      { type: 'request', session: 'gv0', at: 1_700_000_000_000 },
      { type: 'entry_ops', session: 'gv0', op: 'mkdir', result: 'success', n: 3 },
      { type: 'rsync', session: 'unknown', result: 'partial' },
      { type: 'refusal', session: 'unknown', reason: 'forbidden_command' },
    ];
    for (const e of ok) assert.deepEqual(parseAgentEvent(e), e);
  });

  it('refuses anything that could become an unbounded label or is malformed', () => {
    const bad: unknown[] = [
      null, [], 'x', { type: 'nope', session: 'gv0' },
      { type: 'session', session: '/etc/passwd', connected: true },
      { type: 'session', session: 'GV0', connected: true },
      { type: 'session', session: 'gv0', connected: 'yes' },
      { type: 'request', session: 'gv0', at: 'now' },
      { type: 'request', session: 'gv0', at: -1 },
      { type: 'entry_ops', session: 'gv0', op: 'data', result: 'success', n: 1 },
      { type: 'entry_ops', session: 'gv0', op: 'chmod', result: 'success', n: 1 },
      { type: 'entry_ops', session: 'gv0', op: 'mkdir', result: 'maybe', n: 1 },
      { type: 'entry_ops', session: 'gv0', op: 'mkdir', result: 'success', n: 0 },
      { type: 'entry_ops', session: 'gv0', op: 'mkdir', result: 'success', n: 1.5 },
      { type: 'rsync', session: 'gv0', result: 'exit 3' },
      { type: 'refusal', session: 'gv0', reason: 'bad_option' },
    ];
    for (const e of bad) assert.equal(parseAgentEvent(e), null, JSON.stringify(e));
  });

  it('labels: session names, refusal reasons, the SSH connection', () => {
    assert.equal(sessionLabel('gv0_backup1_gv0b'), 'gv0_backup1_gv0b');
    assert.equal(sessionLabel('../x'), 'unknown');
    assert.equal(sessionLabel(undefined), 'unknown');
    assert.equal(refusalLabel('path_escape'), 'path_escape');
    assert.equal(refusalLabel('bad_option'), 'forbidden_command');
    assert.equal(refusalLabel('bad_path'), 'path_escape');
    assert.equal(connOf({ SSH_CLIENT: '192.0.2.7 50123 22' }), '192.0.2.7 50123');
    assert.equal(connOf({ SSH_CLIENT: '::1 50123 22' }), '::1 50123');
    assert.equal(connOf({}), undefined);
    assert.equal(connOf({ SSH_CLIENT: 'garbage' }), undefined);
  });
});

describe('agentEmitter', () => {
  it('never throws or waits when no agent listens; flush resolves at once', async () => {
    const e = agentEmitter(path.join(tmp, 'absent.sock'));
    const t0 = Date.now();
    for (let i = 0; i < 1000; i++) e.emit({ type: 'request', session: 'gv0', at: Date.now() });
    await e.flush(2000);
    assert.ok(Date.now() - t0 < 1000, 'flush must not wait for an absent agent');
    e.close();
    assert.equal(agentEmitter('').emit({ type: 'request', session: 'gv0', at: 1 }), undefined, "'' disables it");
  });

  it('delivers events in order once connected, and flush waits for the write', async () => {
    const sock = path.join(tmp, 'a1.sock');
    const agent = await fakeAgent(sock);
    const e = agentEmitter(sock);
    e.emit({ type: 'session', session: 'gv0', connected: true });
    e.emit({ type: 'request', session: 'gv0', at: 5 });
    e.emit({ type: 'entry_ops', session: 'gv0', op: 'mkdir', result: 'success', n: 2 });
    await e.flush(2000);
    const lines = await agent.waitFor(3);
    assert.deepEqual(lines.map((l) => (l as AgentEvent).type), ['session', 'request', 'entry_ops']);
    e.close();
    await agent.close();
  });

  it('tries to connect at most once per retry period; attached sessions are replayed on reconnect', async () => {
    const sock = path.join(tmp, 'a2.sock');
    let now = 1_000_000;
    const e = agentEmitter(sock, { retryMs: 3000, now: () => now });
    e.emit({ type: 'session', session: 'gv0', connected: true }); // no agent: dropped, but remembered
    await e.flush(500);
    const agent = await fakeAgent(sock);
    now += 1000;
    e.emit({ type: 'request', session: 'gv0', at: 1 }); // within the retry period: dropped, no attempt
    await e.flush(500);
    await sleep(50);
    assert.equal(agent.connections, 0);
    now += 3000;
    e.emit({ type: 'request', session: 'gv0', at: 2 });
    await e.flush(2000);
    const lines = await agent.waitFor(2);
    assert.equal(agent.connections, 1);
    assert.deepEqual(lines, [{ type: 'session', session: 'gv0', connected: true }, { type: 'request', session: 'gv0', at: 2 }]);

    // The agent restarts: the next connection starts with the attached session again.
    await agent.close();
    await sleep(50);
    const again = await fakeAgent(sock);
    now += 5000;
    e.emit({ type: 'request', session: 'gv0', at: 3 });
    await e.flush(2000);
    assert.deepEqual(await again.waitFor(2), [{ type: 'session', session: 'gv0', connected: true }, { type: 'request', session: 'gv0', at: 3 }]);
    // A detached session is no longer replayed.
    e.emit({ type: 'session', session: 'gv0', connected: false });
    await e.flush(2000);
    await again.close();
    await sleep(50);
    const third = await fakeAgent(sock);
    now += 5000;
    e.emit({ type: 'request', session: 'gv0', at: 4 });
    await e.flush(2000);
    assert.deepEqual(await third.waitFor(1), [{ type: 'request', session: 'gv0', at: 4 }]);
    e.close();
    await third.close();
  });
});

describe('slaveSessionEvents over serveSlave', () => {
  const markKey = slaveMarkKey('0a1b2c3d-0000-4000-8000-000000000001');
  const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {} } as never;

  it('hello, requests (rate-limited), entry ops by op and result, refusals, detach', async () => {
    const root = fs.mkdtempSync(path.join(tmp, 'root-'));
    const rec = recorder();
    let now = 1_700_000_000_000;
    const events = slaveSessionEvents(rec, { conn: '192.0.2.7 50123', now: () => now, requestIntervalMs: 1000 });
    const toSlave = new PassThrough();
    const toMaster = new PassThrough();
    const served: Promise<RpcCloseReason> = serveSlave(toSlave, toMaster, new SlaveServer(root), { timeoutSec: 0, concurrency: 1, log: quiet, rsyncTarget: root, events });
    const slave = await RemoteSlave.connect({ readable: toMaster, writable: toSlave }, { timeoutSec: 0, description: 't', rsync: (t) => ({ dest: t }), session: 'gv0_b1_gv0b' });
    assert.deepEqual(rec.events.slice(0, 2), [
      { type: 'session', session: 'gv0_b1_gv0b', connected: true, conn: '192.0.2.7 50123' },
      { type: 'request', session: 'gv0_b1_gv0b', at: now },
    ]);
    now += 100; // within the interval: no new request event until it has passed
    const uid = process.getuid!();
    const gid = process.getgid!();
    const results = await slave.apply([
      { op: 'mkdir', path: 'a', mode: 0o755, uid, gid },
      { op: 'mkdir', path: 'b', mode: 0o755, uid, gid },
      { op: 'delete', path: 'absent', type: 'file' },
      { op: 'rename', from: 'nope', to: 'x' },
      { op: 'mkdir', path: '../escape', mode: 0o755, uid, gid },
      { op: 'mark', path: 'a', xtime: { sec: 1, usec: 0 } },
    ], markKey);
    assert.deepEqual(results.map((r) => r.ok), [true, true, true, false, false, true]);
    await assert.rejects(slave.list('/etc', markKey));
    const ops = rec.events.filter((e) => e.type === 'entry_ops');
    assert.deepEqual(new Set(ops.map((e) => JSON.stringify(e))), new Set([
      { type: 'entry_ops', session: 'gv0_b1_gv0b', op: 'mkdir', result: 'success', n: 2 },
      { type: 'entry_ops', session: 'gv0_b1_gv0b', op: 'unlink', result: 'success', n: 1 },
      { type: 'entry_ops', session: 'gv0_b1_gv0b', op: 'rename', result: 'error', n: 1 },
      { type: 'entry_ops', session: 'gv0_b1_gv0b', op: 'mkdir', result: 'error', n: 1 },
    ].map((e) => JSON.stringify(e))), 'mark is not an entry op');
    assert.deepEqual(rec.events.filter((e) => e.type === 'refusal').map((e) => e.type === 'refusal' && e.reason), ['path_escape', 'absolute_path']);
    assert.equal(rec.events.filter((e) => e.type === 'request').length, 1, 'rate-limited to one per interval');
    now += 2000;
    await slave.identity();
    assert.equal(rec.events.filter((e) => e.type === 'request').length, 2);
    await slave.close();
    await served;
    assert.deepEqual(rec.events.at(-1), { type: 'session', session: 'gv0_b1_gv0b', connected: false, conn: '192.0.2.7 50123' });
  });

  it('a protocol violation counts as a bad_frame refusal; a wrong protocol as version_mismatch', async () => {
    const rec = recorder();
    const events = slaveSessionEvents(rec);
    const h = events.instrument({ hello: async () => { throw new Error('protocol version mismatch'); } });
    await assert.rejects(h['hello']!({ protocol: 99 }));
    events.closed({ kind: 'protocol_violation', message: 'bad frame' });
    assert.deepEqual(rec.events, [
      { type: 'refusal', session: 'unknown', reason: 'version_mismatch' },
      { type: 'refusal', session: 'unknown', reason: 'bad_frame' },
    ]);
  });

  it('a master without a valid session name is reported as session "unknown"', async () => {
    const rec = recorder();
    const events = slaveSessionEvents(rec);
    const h = events.instrument({ hello: async () => ({}) });
    await h['hello']!({ protocol: 1, session: 'Not A Label!' });
    assert.deepEqual(rec.events[0], { type: 'session', session: 'unknown', connected: true });
  });
});

describe('runDispatch events', () => {
  let root: string;
  let policy: DispatchPolicy;
  before(() => {
    root = fs.mkdtempSync(path.join(tmp, 'droot-'));
    const fakeRsync = path.join(tmp, 'fake-rsync');
    fs.writeFileSync(fakeRsync, '#!/bin/sh\nexit 23\n', { mode: 0o755 });
    policy = { root, allowVolumes: [], gsyncdArgv: ['/bin/false'], rsyncPath: fakeRsync };
  });
  const env = (cmd: string) => ({ SSH_ORIGINAL_COMMAND: cmd, SSH_CLIENT: '192.0.2.7 50123 22', PATH: process.env['PATH'] });

  it('a refused command sends a refusal with its reason label and the connection', async () => {
    const rec = recorder();
    assert.equal(await runDispatch(env('sh -c id'), policy, { events: rec, stderr: () => {} }), 1);
    assert.equal(await runDispatch(env(`rsync --server --delete . ${root}/`), policy, { events: rec, stderr: () => {} }), 1);
    assert.equal(await runDispatch(env('rsync --server -logDtpre.iLsfxCIvu . /etc/'), policy, { events: rec, stderr: () => {} }), 1);
    assert.deepEqual(rec.events, [
      { type: 'refusal', session: 'unknown', reason: 'forbidden_command', conn: '192.0.2.7 50123' },
      { type: 'refusal', session: 'unknown', reason: 'forbidden_command', conn: '192.0.2.7 50123' },
      { type: 'refusal', session: 'unknown', reason: 'absolute_path', conn: '192.0.2.7 50123' },
    ]);
  });

  it('an rsync --server run sends its exit class once the child exited', async () => {
    const rec = recorder();
    assert.equal(await runDispatch(env(`rsync --server -logDtpRSe.LsfxCIvu --stats . ${root}/`), policy, { events: rec }), 23);
    assert.deepEqual(rec.events, [{ type: 'rsync', session: 'unknown', result: 'partial', conn: '192.0.2.7 50123' }]);
  });

  it('the default emitter goes to $GSYNCD_AGENT_SOCKET', async () => {
    const sock = path.join(tmp, 'd.sock');
    const agent = await fakeAgent(sock);
    assert.equal(await runDispatch({ ...env('cat /etc/shadow'), GSYNCD_AGENT_SOCKET: sock }, policy, { stderr: () => {} }), 1);
    assert.deepEqual(await agent.waitFor(1), [{ type: 'refusal', session: 'unknown', reason: 'forbidden_command', conn: '192.0.2.7 50123' }]);
    await agent.close();
  });
});
