// The slave agent without sshd: its endpoints over a fake sshd state (fastify inject) and
// session events through the UNIX socket, imported through agent.ts (the API the CLI uses).
// Argument parsing, sshd files and the event aggregation have their own test files.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createMetrics } from '../../../src/observe/metrics.js';
import { agentEmitter } from '../../../src/slave/agent-events.js';
import { AgentCore, buildAgentHttp, listenAgentSocket, type SlaveStatusDoc, type SshdState } from '../../../src/slave/agent.js';
import { samples, value } from '../observe/support.js';

let tmp: string;
let root: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gsyncd-agent-'));
  root = path.join(tmp, 'root');
  fs.mkdirSync(root);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sshdState(over: Partial<SshdState> = {}): SshdState {
  return { up: true, running: true, pid: 4242, port: 2222, restarts: 0, startedAt: Date.now() - 5000, lastExit: null, ...over };
}

function agent(over: { sshd?: Partial<SshdState>; stopping?: boolean; lastBeat?: number; root?: string } = {}) {
  const r = over.root ?? root;
  const metrics = createMetrics('slave', { slaveRoot: r, version: '0.3.0' });
  const core = new AgentCore(metrics);
  const state = { sshd: sshdState(over.sshd), stopping: over.stopping ?? false, lastBeat: over.lastBeat ?? Date.now() };
  metrics.sshdUp.set(state.sshd.up ? 1 : 0);
  const app = buildAgentHttp(core, { sshd: () => state.sshd, stopping: () => state.stopping, lastBeat: () => state.lastBeat }, { root: r, version: '0.3.0' });
  return { metrics, core, state, app };
}

describe('the event socket', () => {
  it('aggregates NDJSON from emitters; a process that goes away is detached; junk is dropped', async () => {
    const sock = path.join(tmp, 'agent.sock');
    fs.writeFileSync(path.join(tmp, 'placeholder'), '');
    const { core, metrics } = agent();
    const listening = await listenAgentSocket(core, sock);
    assert.equal(fs.statSync(sock).mode & 0o777, 0o666, 'the login user must be able to connect');
    const e = agentEmitter(sock);
    e.emit({ type: 'session', session: 'gv0', connected: true });
    e.emit({ type: 'entry_ops', session: 'gv0', op: 'link', result: 'success', n: 4 });
    await e.flush(2000);
    const raw = net.createConnection(sock);
    await new Promise((r) => raw.once('connect', r));
    raw.write('not json\n{"type":"refusal","session":"gv0","reason":"bad_option"}\n{"type":"rsync","session":"gv0","result":"vanished"}\n');
    const until = Date.now() + 2000;
    while (core.views()[0]?.rsync_receives !== 1 && Date.now() < until) await sleep(10);
    let s = await samples(metrics.registry);
    assert.equal(value(s, 'gsyncd_slave_session_connected', { session: 'gv0' }), 1);
    assert.equal(value(s, 'gsyncd_slave_entry_ops_total', { session: 'gv0', op: 'link', result: 'success' }), 4);
    assert.equal(value(s, 'gsyncd_slave_rsync_receives_total', { session: 'gv0', result: 'vanished' }), 1);
    assert.equal(core.dropped, 2);
    // An over-long line closes that connection only.
    raw.write('x'.repeat(10_000));
    await new Promise((r) => raw.once('close', r));
    e.close(); // the gsyncd --slave process ended without a goodbye
    const until2 = Date.now() + 2000;
    while (core.views()[0]?.connected && Date.now() < until2) await sleep(10);
    s = await samples(metrics.registry);
    assert.equal(value(s, 'gsyncd_slave_session_connected', { session: 'gv0' }), 0);

    // A second agent on the same socket is refused; a stale socket file is replaced.
    await assert.rejects(listenAgentSocket(agent().core, sock), /another slave agent/);
    await listening.close();
    assert.equal(fs.existsSync(sock), false);
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(sock, r));
    await new Promise<void>((r) => { server.close(() => r()); });
    fs.writeFileSync(path.join(tmp, 'x'), '');
    await assert.rejects(listenAgentSocket(agent().core, path.join(tmp, 'x')), /not a socket/);
    const again = await listenAgentSocket(agent().core, sock).catch((err: unknown) => err);
    assert.ok(!(again instanceof Error), String(again));
    await (again as { close(): Promise<void> }).close();
  });
});

describe('HTTP endpoints (fastify inject, fake sshd state)', () => {
  it('/readyz: sshd accepting and root writable', async () => {
    const { app } = agent();
    const res = await app.inject('/readyz?verbose');
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /\[\+\]sshd ok/);
    assert.match(res.body, /\[\+\]root ok/);
  });

  it('/readyz 503 when sshd is down or not accepting; /livez still 200 (a restart cannot fix it)', async () => {
    const down = agent({ sshd: { up: false, running: false, pid: null } });
    let res = await down.app.inject('/readyz');
    assert.equal(res.statusCode, 503);
    assert.match(res.body, /\[-\]sshd failed: not_running/);
    assert.equal((await down.app.inject('/livez')).statusCode, 200);
    assert.equal((await down.app.inject('/healthz')).statusCode, 503);
    const s = await samples(down.metrics.registry);
    assert.equal(value(s, 'gsyncd_slave_sshd_up'), 0);
    const deaf = agent({ sshd: { up: false, running: true } });
    res = await deaf.app.inject('/readyz');
    assert.equal(res.statusCode, 503);
    assert.match(res.body, /\[-\]sshd failed: not_accepting/);
  });

  it('/readyz 503 when the root is missing or not a directory, and during shutdown', async () => {
    let res = await agent({ root: path.join(tmp, 'absent') }).app.inject('/readyz');
    assert.equal(res.statusCode, 503);
    assert.match(res.body, /\[-\]root failed: root_missing/);
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, '');
    res = await agent({ root: file }).app.inject('/readyz');
    assert.match(res.body, /\[-\]root failed: root_not_a_directory/);
    res = await agent({ stopping: true }).app.inject('/readyz');
    assert.equal(res.statusCode, 503);
    assert.match(res.body, /\[-\]shutdown failed: shutting_down/);
  });

  it('/livez 503 when the supervisor heartbeat is stale', async () => {
    const { app } = agent({ lastBeat: Date.now() - 120_000 });
    const res = await app.inject('/livez?verbose');
    assert.equal(res.statusCode, 503);
    assert.match(res.body, /\[-\]supervisor failed: no heartbeat for 120 s/);
    assert.equal((await app.inject('/healthz')).statusCode, 503);
  });

  it('/metrics: the slave registry, whatever the health', async () => {
    for (const a of [agent(), agent({ sshd: { up: false, running: false } }), agent({ root: path.join(tmp, 'absent') })]) {
      a.core.handle({ type: 'session', session: 'gv0', connected: true }, 1);
      const res = await a.app.inject('/metrics');
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], a.metrics.registry.contentType);
      assert.match(res.body, /^gsyncd_build_info\{version="0\.3\.0",revision="unknown",node_version="v[\d.]+",role="slave"\} 1$/m);
      assert.match(res.body, new RegExp(`^gsyncd_slave_sshd_up ${a.state.sshd.up ? 1 : 0}$`, 'm'));
      assert.match(res.body, /^gsyncd_slave_session_connected\{session="gv0"\} 1$/m);
      assert.match(res.body, /^gsyncd_slave_root_writable [01]$/m);
      assert.match(res.body, /^process_cpu_user_seconds_total /m);
      assert.doesNotMatch(res.body, /^gsyncd_worker_state/m, 'no master metrics');
    }
  });

  it('/status: a small JSON document', async () => {
    const a = agent({ sshd: { restarts: 2, lastExit: { code: null, signal: 'SIGKILL', at: 1_700_000_000_000 } } });
    a.core.handle({ type: 'session', session: 'gv0', connected: true }, 1);
    a.core.handle({ type: 'request', session: 'gv0', at: 1_700_000_005_000 });
    const res = await a.app.inject('/status');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const doc = JSON.parse(res.body) as SlaveStatusDoc;
    assert.equal(doc.role, 'slave');
    assert.equal(doc.ready, true);
    assert.equal(doc.root, root);
    assert.equal(doc.root_writable, true);
    assert.ok(typeof doc.root_free_bytes === 'number' && doc.root_free_bytes > 0);
    assert.deepEqual(doc.sshd, { up: true, running: true, pid: 4242, port: 2222, restarts: 2, started_at: doc.sshd.started_at, last_exit: { code: null, signal: 'SIGKILL', at: '2023-11-14T22:13:20Z' } });
    assert.deepEqual(doc.sessions, [{ session: 'gv0', connected: true, connections: 1, last_request_at: '2023-11-14T22:13:25Z', entry_ops: 0, rsync_receives: 0, refusals: 0 }]);
    assert.equal('verdict' in doc, false, 'not a master document: `gsyncd status` falls back instead of misreading it');
  });
});
