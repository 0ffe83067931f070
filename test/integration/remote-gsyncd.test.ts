// --remote-gsyncd against a real sshd in another network namespace, with a key that may run any
// command (no forced command) and no gsyncd on the slave's PATH, as a user who cloned the
// repository on both hosts would have it:
//   - the default (this node and this checkout's bin/gsyncd.js) starts the slave: no flag needed;
//   - a command the slave host cannot run is one line naming it, the host and --remote-gsyncd,
//     exit 69 at once with --once, and a monitor that stops after its budget, backing off.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SLAVE_COMMAND_ATTEMPTS, restartDelayMs } from '../../src/core/states.js';
import { compareTrees } from '../support/compare.js';
import { gsyncd, startGsyncd } from '../support/gsyncd.js';
import { twoHosts, type TwoHosts } from '../support/netns.js';
import { requireRoot, testCleanup, tmpDir, waitFor } from '../support/proc.js';
import { makeMixedTree } from '../support/workload.js';

const WRONG = '/nonexistent/bin/gsyncd';

function sshArgs(hosts: TwoHosts): string[] {
  return ['--ssh-identity', hosts.sshd.clientKeyPath, '--ssh-known-hosts', hosts.sshd.knownHostsFile, '--ssh-port', String(hosts.sshd.port)];
}

/** The precondition the tests are about: a login shell on the slave host finds no gsyncd. */
async function assertNoGsyncdOnPath(hosts: TwoHosts): Promise<void> {
  const r = await hosts.sshd.ssh(['command', '-v', 'gsyncd'], { prefix: hosts.a.execPrefix });
  assert.notEqual(r.code, 0, `gsyncd is on the slave's PATH (${r.stdout.trim()}): the test would prove nothing`);
}

const slaveCommandLine = (host: string) =>
  new RegExp(`^gsyncd: cannot start the slave on root@${host.replace(/\./g, '\\.')}: "${WRONG} --slave [^"]*" exited with status 127 \\([^)]*\\); set --remote-gsyncd to the command that runs gsyncd there`);

test('a master run from the checkout starts the slave with no flag: the default --remote-gsyncd is this node and bin/gsyncd.js', { timeout: 300_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const hosts = await twoHosts(216, { cleanup: stack });
  await assertNoGsyncdOnPath(hosts);
  const masterDir = await tmpDir('master', stack);
  const slaveDir = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  makeMixedTree(masterDir);
  const slaveUrl = `root@${hosts.b.ip}:${slaveDir}`;

  const once = await gsyncd(['--once', '--state-dir', stateDir, ...sshArgs(hosts), masterDir, slaveUrl], { prefix: hosts.a.execPrefix });
  assert.equal(once.code, 0, once.stdout + once.stderr);
  assert.deepEqual(compareTrees(masterDir, slaveDir), []);

  // The issue's own command line: -N, the short URL form, continuous; a state file of its own.
  const stateFile = path.join(await tmpDir('custom-state', stack), 'session.json');
  const running = startGsyncd(['-N', '--state-dir', stateDir, '--state-file', stateFile, ...sshArgs(hosts), masterDir, slaveUrl], {}, hosts.a.execPrefix);
  stack.defer('stop gsyncd', () => running.kill9());
  fs.writeFileSync(path.join(masterDir, 'after-start'), 'continuous');
  await waitFor(() => fs.existsSync(path.join(slaveDir, 'after-start')) && compareTrees(masterDir, slaveDir).length === 0,
    { timeoutMs: 60_000, intervalMs: 200, what: `the continuous session to converge\n${running.output().slice(-3000)}` });
  // `status --state-file` finds the running session the daemon was started with.
  const status = await gsyncd(['status', '--json', '--state-file', stateFile]);
  assert.equal(status.code, 0, status.stdout + status.stderr);
  const doc = JSON.parse(status.stdout) as { verdict: string; sessions: { slave: string }[] };
  assert.match(doc.verdict, /^(in-sync|catching-up)$/);
  assert.deepEqual(doc.sessions.map((x) => x.slave), [`ssh://root@${hosts.b.ip}:file://${slaveDir}`]);
  assert.equal(await running.stop(), 0, running.output().slice(-3000));
});

test('a --remote-gsyncd the slave cannot run: one line naming it, the host and the option; exit 69, at once with --once', { timeout: 120_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const hosts = await twoHosts(217, { cleanup: stack });
  const masterDir = await tmpDir('master', stack);
  const slaveDir = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  fs.writeFileSync(path.join(masterDir, 'f'), 'x');
  const t0 = Date.now();
  const r = await gsyncd(['--once', '--state-dir', stateDir, '--remote-gsyncd', WRONG, ...sshArgs(hosts), masterDir, `root@${hosts.b.ip}:${slaveDir}`],
    { prefix: hosts.a.execPrefix });
  assert.equal(r.code, 69, r.stdout + r.stderr);
  assert.ok(Date.now() - t0 < 30_000, `not retried: took ${Date.now() - t0} ms`);
  const plain = r.stderr.split('\n').filter((l) => l.startsWith('gsyncd: '));
  assert.equal(plain.length, 1, r.stderr);
  assert.match(plain[0]!, slaveCommandLine(hosts.b.ip));
  assert.deepEqual(fs.readdirSync(slaveDir), []);
  const [session] = fs.readdirSync(stateDir);
  const state = JSON.parse(fs.readFileSync(path.join(stateDir, session!, 'state.json'), 'utf8')) as { lastError?: { message: string; code?: string } };
  assert.equal(state.lastError?.code, 'GSYNCD_ERR_SLAVE_COMMAND');
  assert.match(`gsyncd: ${state.lastError.message}`, slaveCommandLine(hosts.b.ip));
});

test('the monitor stops retrying a slave command that cannot start: backoff, lastError in /status, a metric reason, exit 69', { timeout: 180_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const hosts = await twoHosts(218, { cleanup: stack });
  const masterDir = await tmpDir('master', stack);
  const slaveDir = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  const bind = `${hosts.a.ip}:9754`;
  const t0 = Date.now();
  // --max-failures is 0 (retry forever) by default: a slave command that cannot start still stops.
  const running = startGsyncd(['-N', '--state-dir', stateDir, '--http-bind', bind, '--remote-gsyncd', WRONG, ...sshArgs(hosts), masterDir, `root@${hosts.b.ip}:${slaveDir}`],
    {}, hosts.a.execPrefix);
  stack.defer('stop gsyncd', () => running.kill9());

  let status: { sessions: { workers: { last_error: { message: string; code?: string } | null }[] }[] } | undefined;
  let metrics = '';
  await waitFor(async () => {
    try {
      status = await (await fetch(`http://${bind}/status`)).json() as typeof status;
      metrics = await (await fetch(`http://${bind}/metrics`)).text();
    } catch {
      return false;
    }
    return status?.sessions[0]?.workers[0]?.last_error?.code === 'GSYNCD_ERR_SLAVE_COMMAND' && /result="slave_command_failed"\} [1-9]/.test(metrics);
  }, { timeoutMs: 60_000, intervalMs: 100, what: `lastError and the metric while the monitor retries\n${running.output().slice(-3000)}` });
  assert.match(`gsyncd: ${status!.sessions[0]!.workers[0]!.last_error!.message}`, slaveCommandLine(hosts.b.ip));

  // The monitor stops by itself; SIGKILL after the whole backoff budget is a failure.
  const code = await new Promise<number | null>((resolve) => {
    if (running.child.exitCode !== null || running.child.signalCode !== null) { resolve(running.child.exitCode); return; }
    const timer = setTimeout(() => running.child.kill('SIGKILL'), 90_000);
    running.child.once('exit', (c) => { clearTimeout(timer); resolve(c); });
  });
  const elapsed = Date.now() - t0;
  assert.equal(code, 69, running.output().slice(-3000));
  const lines = running.output().split('\n').filter((l) => l.startsWith('gsyncd: '));
  // One line per attempt (each worker), then the monitor's own, which says it stopped.
  assert.equal(lines.length, SLAVE_COMMAND_ATTEMPTS + 1, lines.join('\n'));
  for (const l of lines) assert.match(l, slaveCommandLine(hosts.b.ip));
  assert.match(lines.at(-1)!, new RegExp(`\\(${SLAVE_COMMAND_ATTEMPTS} attempts\\)$`));
  let backoff = 0;
  for (let i = 1; i < SLAVE_COMMAND_ATTEMPTS; i++) backoff += restartDelayMs(i);
  assert.ok(elapsed >= backoff, `restarts back off (${elapsed} ms < ${backoff} ms)`);
  const [session] = fs.readdirSync(stateDir);
  const state = JSON.parse(fs.readFileSync(path.join(stateDir, session!, 'state.json'), 'utf8')) as { restarts: number; monitorGaveUp?: { failures: number }; lastError?: { code?: string } };
  assert.equal(state.monitorGaveUp?.failures, SLAVE_COMMAND_ATTEMPTS);
  assert.equal(state.lastError?.code, 'GSYNCD_ERR_SLAVE_COMMAND');
});
