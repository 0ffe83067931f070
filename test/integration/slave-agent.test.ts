// `gsyncd slave-agent` with a real sshd: host keys from a Secret-like directory of symlinks, the
// forced-command dispatcher in authorized_keys, a real master syncing over SSH, the session's
// events in the agent's /metrics, a refused command counted, the sshd child restarted after a
// kill, a clean SIGTERM, and `promtool check metrics` on live scrapes of the agent and a master.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { GSYNCD_BIN, gsyncd, startGsyncd, type RunningGsyncd } from '../support/gsyncd.js';
import { freePort, mustRun, requireRoot, requireTools, run, testCleanup, tmpDir, waitFor, type CleanupStack } from '../support/proc.js';
import { sshKeygen } from '../support/sshd.js';

type Sample = { name: string; labels: Record<string, string>; value: number };

function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

const pick = (s: Sample[], name: string, labels: Record<string, string> = {}) =>
  s.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
const sum = (s: Sample[]) => s.reduce((a, x) => a + x.value, 0);

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

/**
 * promtool, installed when missing the way scripts/test.sh does: only the binary out of Debian's
 * prometheus package (installing the package could start a Prometheus server).
 */
async function ensurePromtool(log: (m: string) => void): Promise<string> {
  const which = await run('sh', ['-c', 'command -v promtool']);
  if (which.code === 0) return which.stdout.trim();
  log('promtool missing: installing the promtool binary from the prometheus package');
  const script = [
    'set -e', 'tmp=$(mktemp -d)',
    '( cd "$tmp" && apt-get -o DPkg::Lock::Timeout=600 download prometheus ) || { apt-get -o DPkg::Lock::Timeout=600 update && ( cd "$tmp" && apt-get -o DPkg::Lock::Timeout=600 download prometheus ); }',
    'dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"', 'install -m 0755 "$tmp/x/usr/bin/promtool" /usr/local/bin/promtool', 'rm -rf "$tmp"',
  ].join('\n');
  const r = await run('sh', ['-c', script], { timeoutMs: 900_000 });
  assert.equal(r.code, 0, `installing promtool failed:\n${r.stdout}\n${r.stderr}`);
  return '/usr/local/bin/promtool';
}

/** Any finding of promtool's linter, or a parse error, fails the test. */
async function promtoolCheck(promtool: string, exposition: string, what: string, log: (m: string) => void): Promise<void> {
  const r = await run(promtool, ['check', 'metrics'], { input: exposition, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `promtool check metrics failed on the ${what} scrape (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  log(`promtool check metrics: the ${what} scrape is clean`);
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** A directory shaped like a mounted Kubernetes Secret: files are symlinks into ..data, mode 0644. */
async function secretDir(dir: string): Promise<string> {
  const real = path.join(dir, '..2026_01_01_00_00_00.000000001');
  fs.mkdirSync(real, { recursive: true });
  const pub = await sshKeygen(path.join(real, 'ssh_host_ed25519_key'), 'gsyncd-agent-test-host');
  fs.chmodSync(path.join(real, 'ssh_host_ed25519_key'), 0o644); // sshd refuses this mode: the agent must copy it
  fs.symlinkSync(path.basename(real), path.join(dir, '..data'));
  fs.symlinkSync('..data/ssh_host_ed25519_key', path.join(dir, 'ssh_host_ed25519_key'));
  return pub.split(' ').slice(0, 2).join(' ');
}

/** SIGTERM and wait up to `ms`; then SIGKILL it and its children. Resolves to the exit code, or 'killed'. */
async function stopOrKill(p: RunningGsyncd, ms: number): Promise<number | null | 'killed'> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.child.exitCode;
  const exited = new Promise<number | null>((r) => p.child.once('exit', (code) => r(code)));
  p.child.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);
  if (code !== 'timeout') return code;
  const pid = p.child.pid!;
  let kids: number[] = [];
  try { kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number); } catch { /* gone */ }
  for (const k of kids) { try { process.kill(k, 'SIGKILL'); } catch { /* gone */ } }
  await p.kill9();
  return 'killed';
}

function stopLater(stack: CleanupStack, what: string, p: RunningGsyncd): void {
  stack.defer(`stop ${what}`, () => stopOrKill(p, 20_000));
}

test('slave-agent: supervised sshd, session metrics, refusals, sshd restart, promtool', { timeout: 900_000 }, async (t) => {
  requireRoot();
  requireTools(['/usr/sbin/sshd', 'ssh', 'ssh-keygen', 'rsync']);
  const stack = testCleanup(t);
  const log = (m: string) => t.diagnostic(m);
  const work = await tmpDir('slave-agent', stack);
  const slaveDir = path.join(work, 'slave');
  const masterDir = path.join(work, 'master');
  fs.mkdirSync(slaveDir);
  fs.mkdirSync(path.join(masterDir, 'dir', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(masterDir, 'top.txt'), 'top\n');
  fs.writeFileSync(path.join(masterDir, 'dir', 'sub', 'deep.bin'), Buffer.alloc(200_000, 7));
  fs.symlinkSync('top.txt', path.join(masterDir, 'link'));

  // sshd's StrictModes checks every directory above authorized_keys: not under /var/tmp (1777).
  const stateDir = fs.mkdtempSync('/run/gsyncd-agent-test.');
  stack.defer(`remove ${stateDir}`, () => fs.rmSync(stateDir, { recursive: true, force: true }));
  const hostPub = await secretDir(path.join(work, 'secret'));
  const clientKey = path.join(work, 'client_ed25519');
  const clientPub = await sshKeygen(clientKey, 'gsyncd-agent-test-client');
  const authorizedKeys = path.join(work, 'authorized_keys');
  // No `env GSYNCD_AGENT_SOCKET=...` here: the agent's sshd_config passes it (SetEnv).
  fs.writeFileSync(authorizedKeys, `command="${process.execPath} ${GSYNCD_BIN} --dispatch --root ${slaveDir}",restrict ${clientPub}\n`);

  const sshPort = await freePort();
  const httpPort = await freePort();
  const base = `http://127.0.0.1:${httpPort}`;
  const socket = path.join(work, 'agent.sock');
  const agent = startGsyncd(['slave-agent', slaveDir, '--sshd-port', String(sshPort), '--http-bind', `127.0.0.1:${httpPort}`,
    '--agent-socket', socket, '--state-dir', stateDir, '--host-keys', path.join(work, 'secret'), '--authorized-keys', authorizedKeys,
    '--check-interval', '1']);
  const sshdPids = new Set<number>();
  stack.defer('kill leftover sshd', () => { for (const p of sshdPids) if (alive(p)) process.kill(p, 'SIGKILL'); });
  stopLater(stack, 'slave agent', agent);
  const status = async () => {
    const doc = JSON.parse((await get(`${base}/status`)).body) as { sshd: { up: boolean; pid: number | null; restarts: number }; sessions: { session: string; connected: boolean; entry_ops: number }[] };
    if (doc.sshd.pid) sshdPids.add(doc.sshd.pid);
    return doc;
  };
  const scrape = async () => parseMetrics((await get(`${base}/metrics`)).body);

  await waitFor(async () => {
    if (agent.child.exitCode !== null) throw new Error(`the agent exited ${agent.child.exitCode}:\n${agent.output()}`);
    return (await get(`${base}/readyz`)).status === 200;
  }, { what: 'the agent /readyz to answer 200', timeoutMs: 60_000, intervalMs: 200 });
  const first = await status();
  assert.equal(first.sshd.up, true);
  assert.equal(fs.statSync(path.join(stateDir, 'host_keys', 'ssh_host_ed25519_key')).mode & 0o777, 0o600, 'host key copied with mode 0600');
  assert.equal(fs.statSync(socket).mode & 0o777, 0o666);

  // A real master over SSH. (Hashed known_hosts entry: the [host]:port form in plain text is
  // not matched by src/transport/known-hosts.ts, which reads '[' ']' as a glob class.)
  const knownHosts = path.join(work, 'known_hosts');
  fs.writeFileSync(knownHosts, `[127.0.0.1]:${sshPort} ${hostPub}\n`);
  await mustRun('ssh-keygen', ['-H', '-f', knownHosts]);
  const slaveUrl = `ssh://root@127.0.0.1:${sshPort}:${slaveDir}`;
  const once = await gsyncd(['--once', '--state-dir', path.join(work, 'state'), '--ssh-identity', clientKey, '--ssh-known-hosts', knownHosts, masterDir, slaveUrl], { timeoutMs: 300_000 });
  assert.equal(once.code, 0, `gsyncd --once failed (${once.code}):\n${once.stdout}\n${once.stderr}\nagent:\n${agent.output().slice(-5000)}`);
  assert.equal(fs.readFileSync(path.join(slaveDir, 'top.txt'), 'utf8'), 'top\n');
  assert.deepEqual(fs.readFileSync(path.join(slaveDir, 'dir', 'sub', 'deep.bin')), Buffer.alloc(200_000, 7));
  assert.equal(fs.readlinkSync(path.join(slaveDir, 'link')), 'top.txt');

  // The session's events reached the agent (the last ones are sent as the session ends).
  const s1 = await waitFor(async () => {
    const s = await scrape();
    return sum(pick(s, 'gsyncd_slave_entry_ops_total')) > 0 && sum(pick(s, 'gsyncd_slave_rsync_receives_total', { result: 'ok' })) > 0 ? s : null;
  }, { what: 'entry ops and rsync runs in the agent metrics', timeoutMs: 15_000, intervalMs: 200 });
  const connected = pick(s1, 'gsyncd_slave_session_connected');
  assert.equal(connected.length, 1, JSON.stringify(connected));
  const session = connected[0]!.labels['session']!;
  assert.match(session, /^[a-z0-9][a-z0-9_.-]{0,62}$/);
  assert.notEqual(session, 'unknown');
  assert.equal(pick(s1, 'gsyncd_slave_sshd_up')[0]?.value, 1);
  assert.equal(pick(s1, 'gsyncd_slave_root_writable')[0]?.value, 1);
  assert.ok(sum(pick(s1, 'gsyncd_slave_entry_ops_total', { session, result: 'success' })) > 0, 'entry ops of the session');
  assert.ok(sum(pick(s1, 'gsyncd_slave_rsync_receives_total', { session, result: 'ok' })) > 0, 'rsync runs attributed to the session');
  assert.ok(pick(s1, 'gsyncd_slave_last_request_timestamp_seconds', { session })[0]!.value > Date.now() / 1000 - 600);
  await waitFor(async () => pick(await scrape(), 'gsyncd_slave_session_connected', { session })[0]?.value === 0,
    { what: 'the session to be detached after --once', timeoutMs: 15_000 });
  assert.ok((await status()).sessions.some((x) => x.session === session && !x.connected && x.entry_ops > 0));

  // A refused command is counted with its reason.
  const sshArgs = ['-F', '/dev/null', '-i', clientKey, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', `UserKnownHostsFile=${knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-p', String(sshPort), 'root@127.0.0.1'];
  const refusedCount = async () => sum(pick(await scrape(), 'gsyncd_slave_refusals_total', { reason: 'forbidden_command' }));
  assert.equal(await refusedCount(), 0);
  const shell = await run('ssh', [...sshArgs, 'sh'], { timeoutMs: 60_000 });
  assert.notEqual(shell.code, 0);
  assert.match(shell.stderr, /refused/);
  await waitFor(async () => (await refusedCount()) === 1, { what: 'gsyncd_slave_refusals_total{reason="forbidden_command"} to reach 1', timeoutMs: 15_000 });
  assert.equal(pick(await scrape(), 'gsyncd_slave_refusals_total', { session: 'unknown', reason: 'forbidden_command' })[0]?.value, 1);

  // Kill the sshd child: the agent notices, restarts it, and it serves again.
  const oldPid = (await status()).sshd.pid!;
  assert.ok(oldPid > 0 && alive(oldPid));
  process.kill(oldPid, 'SIGKILL');
  await waitFor(async () => pick(await scrape(), 'gsyncd_slave_sshd_up')[0]?.value === 0, { what: 'sshd_up 0 after the kill', timeoutMs: 10_000, intervalMs: 50 });
  const restarted = await waitFor(async () => {
    const doc = await status();
    return doc.sshd.up && doc.sshd.pid !== oldPid ? doc : null;
  }, { what: 'the agent to restart sshd', timeoutMs: 30_000, intervalMs: 200 });
  assert.ok(restarted.sshd.restarts >= 1);
  assert.equal(pick(await scrape(), 'gsyncd_slave_sshd_up')[0]?.value, 1);
  assert.equal((await get(`${base}/readyz`)).status, 200);
  const again = await run('ssh', [...sshArgs, 'cat', '/etc/shadow'], { timeoutMs: 60_000 });
  assert.match(again.stderr, /refused/, 'the restarted sshd runs the forced command');
  await waitFor(async () => (await refusedCount()) === 2, { what: 'the second refusal', timeoutMs: 15_000 });

  // promtool on live scrapes: the agent, and a continuously running master.
  const promtool = await ensurePromtool(log);
  await promtoolCheck(promtool, (await get(`${base}/metrics`)).body, 'slave agent', log);
  const masterHttp = await freePort();
  const localSlave = path.join(work, 'local-slave');
  fs.mkdirSync(localSlave);
  const master = startGsyncd(['--state-dir', path.join(work, 'master-state'), '--http-bind', `127.0.0.1:${masterHttp}`, masterDir, localSlave]);
  stopLater(stack, 'master', master);
  const masterText = await waitFor(async () => {
    if (master.child.exitCode !== null) throw new Error(`the master exited ${master.child.exitCode}:\n${master.output()}`);
    const r = await get(`http://127.0.0.1:${masterHttp}/metrics`);
    return r.status === 200 && /^gsyncd_worker_state\{/m.test(r.body) && /^gsyncd_batches_total\{[^}]*result="success"\} [1-9]/m.test(r.body) ? r.body : null;
  }, { what: 'the master /metrics after a batch', timeoutMs: 120_000, intervalMs: 500 });
  await promtoolCheck(promtool, masterText, 'master', log);
  assert.equal(await stopOrKill(master, 30_000), 0, `the master should exit 0 on SIGTERM:\n${master.output().slice(-3000)}`);

  // SIGTERM: sshd stopped, socket removed, HTTP closed, exit 0.
  const lastPid = (await status()).sshd.pid!;
  assert.equal(await agent.stop(), 0, agent.output().slice(-5000));
  assert.equal(alive(lastPid), false, 'sshd must be stopped with the agent');
  assert.equal(fs.existsSync(socket), false);
  await assert.rejects(get(`${base}/livez`));
  const out = agent.output();
  assert.match(out, /"event":"shutdown.begin"/);
  assert.match(out, /"event":"shutdown.done"/);
  assert.match(out, /"sshd":"Server listening on /, 'sshd stderr is forwarded into the log');
  // One check per second ran all along: their "Connection closed … [preauth]" lines are not logged.
  const closedLines = out.split('\n').filter((l) => /"sshd":"Connection closed by 127\.0\.0\.1 port \d+ \[preauth\]"/.test(l));
  assert.ok(closedLines.length < 3, `health checks must stay out of the log:\n${closedLines.join('\n')}`);
});
