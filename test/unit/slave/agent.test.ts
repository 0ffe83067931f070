// The slave agent without sshd: its endpoints over a fake sshd state (fastify inject), session
// events aggregated into the slave metrics (directly and through the UNIX socket), argument
// parsing, and the generated sshd_config / authorized_keys.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isGsyncdError } from '../../../src/core/errors.js';
import { createMetrics } from '../../../src/observe/metrics.js';
import {
  AgentCore, buildAgentHttp, dispatchCommand, forcedAuthorizedKeys, listenAgentSocket, parseAgentArgs, renderSshdConfig,
  type AgentOptions, type SshdState, type SlaveStatusDoc,
} from '../../../src/slave/agent.js';
import { agentEmitter } from '../../../src/slave/agent-events.js';
import { find, samples, value } from '../observe/support.js';

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

describe('parseAgentArgs', () => {
  it('defaults', () => {
    const o = parseAgentArgs(['/data'], {}) as AgentOptions;
    assert.equal(o.root, '/data');
    assert.equal(o.sshdPort, 22);
    assert.equal(o.sshdPortExplicit, false);
    assert.equal(o.httpBind, '127.0.0.1:9754');
    assert.equal(o.httpBindExplicit, false);
    assert.equal(o.agentSocket, '/run/gsyncd/agent.sock');
    assert.equal(o.stateDir, '/run/gsyncd/agent');
    assert.equal(o.checkIntervalMs, 5000);
    assert.equal(o.sshdConfig, undefined);
    assert.deepEqual(o.allowVolumes, []);
  });

  it('options, the images\' GSYNCD_HTTP_BIND, repeated --allow-volume', () => {
    const o = parseAgentArgs(['--sshd-port', '2222', 'data', '--allow-volume', 'gv0', '--allow-volume=gv1', '--host-keys', '/etc/gsyncd/ssh',
      '--authorized-keys', '/etc/gsyncd/ssh/authorized_keys', '--agent-socket', '/tmp/a.sock', '--check-interval', '0.5'],
    { GSYNCD_HTTP_BIND: '0.0.0.0:9754', GSYNCD_LOG_LEVEL: 'debug' }, '/srv') as AgentOptions;
    assert.equal(o.root, '/srv/data');
    assert.equal(o.sshdPort, 2222);
    assert.equal(o.sshdPortExplicit, true);
    assert.equal(o.httpBind, '0.0.0.0:9754');
    assert.equal(o.httpBindExplicit, true, 'an address from the environment is explicit: a failed bind exits 69');
    assert.deepEqual(o.allowVolumes, ['gv0', 'gv1']);
    assert.equal(o.hostKeys, '/etc/gsyncd/ssh');
    assert.equal(o.agentSocket, '/tmp/a.sock');
    assert.equal(o.checkIntervalMs, 500);
    assert.equal(o.logLevel, 'debug');
    assert.equal((parseAgentArgs(['/d', '--authorized-keys', '/x/%u'], {}) as AgentOptions).authorizedKeys, '/x/%u');
    assert.equal(parseAgentArgs(['--help'], {}), 'help');
  });

  it('usage errors exit 64', () => {
    for (const argv of [[], ['/a', '/b'], ['/d', '--bogus'], ['/d', '--sshd-port'], ['/d', '--sshd-port', '70000'], ['/d', '--http-bind', 'nope'],
      ['/d', '--allow-volume', 'a/b'], ['/d', '--log-level', 'loud']]) {
      assert.throws(() => parseAgentArgs(argv, {}), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_USAGE') && err.exitCode === 64, JSON.stringify(argv));
    }
  });
});

describe('sshd configuration', () => {
  it('renders the options the brief requires', () => {
    const text = renderSshdConfig({
      port: 2222, hostKeys: ['/run/a/host_keys/ssh_host_ed25519_key', '/run/a/host_keys/ssh_host_rsa_key'], pidFile: '/run/a/sshd.pid',
      authorizedKeysFile: '/run/a/authorized_keys', usePam: false, agentSocket: '/run/gsyncd/agent.sock',
    });
    const lines = text.trim().split('\n');
    for (const want of ['Port 2222', 'HostKey /run/a/host_keys/ssh_host_ed25519_key', 'HostKey /run/a/host_keys/ssh_host_rsa_key', 'PidFile /run/a/sshd.pid',
      'AuthorizedKeysFile /run/a/authorized_keys', 'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'UsePAM no',
      'SetEnv GSYNCD_AGENT_SOCKET=/run/gsyncd/agent.sock']) {
      assert.ok(lines.includes(want), `missing ${want}:\n${text}`);
    }
    assert.ok(!lines.some((l) => l.startsWith('PerSourcePenalty')));
    assert.ok(!lines.some((l) => /^Subsystem/.test(l)), 'no sftp');
    const other = renderSshdConfig({ port: 22, hostKeys: ['/k k/key'], pidFile: '/p', usePam: true, agentSocket: '/a b/s', penaltyExempt: true });
    assert.match(other, /^HostKey "\/k k\/key"$/m);
    assert.match(other, /^SetEnv "GSYNCD_AGENT_SOCKET=\/a b\/s"$/m);
    assert.match(other, /^UsePAM yes$/m);
    assert.match(other, /^PerSourcePenaltyExemptList 127\.0\.0\.1\/32,::1\/128$/m);
    assert.doesNotMatch(other, /AuthorizedKeysFile/, 'sshd default when no file is given');
  });

  it('sshd -t accepts the rendered configuration', { skip: !fs.existsSync('/usr/sbin/sshd') || process.getuid?.() !== 0 }, () => {
    const key = path.join(tmp, 'ssh_host_ed25519_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const file = path.join(tmp, 'sshd_config');
    fs.writeFileSync(file, renderSshdConfig({ port: 2222, hostKeys: [key], pidFile: path.join(tmp, 'sshd.pid'), authorizedKeysFile: path.join(tmp, 'ak'), usePam: false, agentSocket: '/run/gsyncd/agent.sock' }));
    fs.mkdirSync('/run/sshd', { recursive: true });
    execFileSync('/usr/sbin/sshd', ['-t', '-f', file]);
  });

  it('authorized_keys: plain keys get the forced dispatcher, option lines need their own command=', () => {
    const forced = dispatchCommand('/data', ['gv0'], ['/usr/bin/node', '/usr/lib/gsyncd/bin/gsyncd.js']);
    assert.equal(forced, '/usr/bin/node /usr/lib/gsyncd/bin/gsyncd.js --dispatch --root /data --allow-volume gv0');
    assert.equal(dispatchCommand("/my data/it's", [], ['gsyncd']), `gsyncd --dispatch --root '/my data/it'\\''s'`);
    const input = [
      '# the master',
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA1 master@a',
      '',
      'command="gsyncd --dispatch --root /other" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA2 b',
      'restrict,command="gsyncd --dispatch --root /x" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA3 c',
      'no-pty,from="10.0.0.0/8" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA4 shell-allowing',
      'ecdsa-sha2-nistp256 AAAAE2VjZHNh d\r',
    ].join('\n');
    const out = forcedAuthorizedKeys(input, forced);
    assert.equal(out.keys, 4);
    assert.equal(out.skipped, 1);
    assert.deepEqual(out.text.trim().split('\n'), [
      `command="${forced}",restrict ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA1 master@a`,
      'restrict,command="gsyncd --dispatch --root /other" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA2 b',
      'restrict,command="gsyncd --dispatch --root /x" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA3 c',
      `command="${forced}",restrict ecdsa-sha2-nistp256 AAAAE2VjZHNh d`,
    ]);
    assert.match(forcedAuthorizedKeys('ssh-ed25519 AAAA k', 'a "quoted" \\ cmd').text, /^command="a \\"quoted\\" \\\\ cmd",restrict /);
  });
});

describe('AgentCore: events → slave metrics', () => {
  it('connected follows the attached processes; the series stays at 0 after detach', async () => {
    const { core, metrics } = agent();
    core.handle({ type: 'session', session: 'gv0', connected: true }, 1);
    core.handle({ type: 'session', session: 'gv0', connected: true }, 2);
    let s = await samples(metrics.registry);
    assert.equal(value(s, 'gsyncd_slave_session_connected', { session: 'gv0' }), 1);
    // §3.5: the session's series exist at 0 from the start
    assert.equal(find(s, 'gsyncd_slave_entry_ops_total', { session: 'gv0' }).length, 8 * 3);
    assert.equal(value(s, 'gsyncd_slave_rsync_receives_total', { session: 'gv0', result: 'vanished' }), 0);
    assert.equal(value(s, 'gsyncd_slave_refusals_total', { session: 'gv0', reason: 'bad_frame' }), 0);
    core.handle({ type: 'session', session: 'gv0', connected: false }, 1);
    s = await samples(metrics.registry);
    assert.equal(value(s, 'gsyncd_slave_session_connected', { session: 'gv0' }), 1, 'one process still attached');
    core.sourceClosed(2); // crashed without saying goodbye
    s = await samples(metrics.registry);
    assert.equal(value(s, 'gsyncd_slave_session_connected', { session: 'gv0' }), 0);
    assert.deepEqual(core.views().map((v) => [v.session, v.connected, v.connections]), [['gv0', false, 0]]);
  });

  it('requests, entry ops, rsync runs and refusals; rsync and refusals attributed through the SSH connection', async () => {
    const { core, metrics } = agent();
    core.handle({ type: 'session', session: 'gv0', connected: true, conn: '192.0.2.7 50123' }, 1);
    core.handle({ type: 'request', session: 'gv0', at: 1_700_000_002_500 });
    core.handle({ type: 'request', session: 'gv0', at: 1_700_000_001_000 }); // late: never goes back
    core.handle({ type: 'entry_ops', session: 'gv0', op: 'mkdir', result: 'success', n: 3 });
    core.handle({ type: 'entry_ops', session: 'gv0', op: 'mkdir', result: 'success', n: 2 });
    core.handle({ type: 'entry_ops', session: 'gv0', op: 'rmdir', result: 'error', n: 1 });
    core.handle({ type: 'rsync', session: 'unknown', result: 'ok', conn: '192.0.2.7 50123' });
    core.handle({ type: 'rsync', session: 'unknown', result: 'partial', conn: '192.0.2.7 50123' });
    core.handle({ type: 'rsync', session: 'unknown', result: 'error', conn: '198.51.100.1 1' }); // another connection
    core.handle({ type: 'refusal', session: 'unknown', reason: 'forbidden_command' });
    core.handle({ type: 'refusal', session: 'gv0', reason: 'path_escape' });
    const s = await samples(metrics.registry);
    assert.equal(value(s, 'gsyncd_slave_last_request_timestamp_seconds', { session: 'gv0' }), 1_700_000_002.5);
    assert.equal(value(s, 'gsyncd_slave_entry_ops_total', { session: 'gv0', op: 'mkdir', result: 'success' }), 5);
    assert.equal(value(s, 'gsyncd_slave_entry_ops_total', { session: 'gv0', op: 'rmdir', result: 'error' }), 1);
    assert.equal(value(s, 'gsyncd_slave_rsync_receives_total', { session: 'gv0', result: 'ok' }), 1);
    assert.equal(value(s, 'gsyncd_slave_rsync_receives_total', { session: 'gv0', result: 'partial' }), 1);
    assert.equal(value(s, 'gsyncd_slave_rsync_receives_total', { session: 'unknown', result: 'error' }), 1);
    assert.equal(value(s, 'gsyncd_slave_refusals_total', { session: 'unknown', reason: 'forbidden_command' }), 1);
    assert.equal(value(s, 'gsyncd_slave_refusals_total', { session: 'gv0', reason: 'path_escape' }), 1);
    const v = core.views().find((x) => x.session === 'gv0')!;
    assert.deepEqual(v, { session: 'gv0', connected: true, connections: 1, last_request_at: '2023-11-14T22:13:22Z', entry_ops: 6, rsync_receives: 2, refusals: 1 });
  });

  it('caps the number of sessions with series of their own (§3.2 budget)', async () => {
    const metrics = createMetrics('slave', { slaveRoot: root });
    const core = new AgentCore(metrics, { maxSessions: 3 });
    for (let i = 0; i < 10; i++) core.handle({ type: 'session', session: `s${i}`, connected: true }, i);
    core.handle({ type: 'refusal', session: 'unknown', reason: 'nul_byte' });
    const s = await samples(metrics.registry);
    assert.deepEqual(find(s, 'gsyncd_slave_session_connected').map((x) => x.labels['session']), ['s0', 's1', 's2']);
    assert.equal(value(s, 'gsyncd_slave_refusals_total', { session: 'unknown', reason: 'nul_byte' }), 1, 'unknown is always counted');
    assert.equal(core.dropped, 7);
  });
});

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
