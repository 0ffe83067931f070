// Monitor options on real sessions: --max-failures turns a crash loop into exit 69 with a
// `halted (monitor_gave_up)` status; --ready-requires-slave makes /readyz fail while the slave
// cannot be reached (without it, /readyz stays 200: see observe.test.ts).
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { gsyncd, logLines, startGsyncd } from '../support/gsyncd.js';
import { freePort, requireRoot, testCleanup, tmpDir, waitFor } from '../support/proc.js';

/** The exit status of a child, or 'hung' when it is still running after `ms`. */
function exitWithin(child: ChildProcess, ms: number): Promise<number | null | 'hung'> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('hung'), ms);
    child.once('exit', (c) => { clearTimeout(timer); resolve(c); });
  });
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

test('--max-failures 2: a worker that keeps failing makes the monitor give up with exit 69; status says halted', { timeout: 90_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const master = await tmpDir('master', stack);
  const stateDir = await tmpDir('state', stack);
  // A slave root that is a file: every worker fails at start-up.
  const badSlave = path.join(await tmpDir('slave', stack), 'a-file');
  fs.writeFileSync(badSlave, 'not a directory\n');
  const run = startGsyncd(['--state-dir', stateDir, '--session-name', 'giveup', '--max-failures', '2', '--http-bind', `127.0.0.1:${await freePort()}`, master, badSlave]);
  stack.defer('stop gsyncd', () => run.kill9());
  const code = await exitWithin(run.child, 60_000);
  assert.equal(code, 69, run.output().slice(-3000));
  const gaveUp = logLines(run.output()).find((l) => l['event'] === 'monitor.gave_up');
  assert.ok(gaveUp, 'a monitor.gave_up log line');
  assert.equal(gaveUp['failures'], 2);
  const status = await gsyncd(['status', '--json', '--state-dir', stateDir]);
  assert.equal(status.code, 2, status.stdout + status.stderr);
  assert.match(status.stdout, /monitor_gave_up/);
});

test('--ready-requires-slave: /readyz is 503 (slave_unreachable) while the slave cannot be reached; /livez stays 200', { timeout: 90_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const master = await tmpDir('master', stack);
  const stateDir = await tmpDir('state', stack);
  const nobody = await freePort(); // nothing listens there: every connection is refused
  const probe = async (extra: string[]) => {
    const port = await freePort();
    const run = startGsyncd(['--state-dir', stateDir, '--http-bind', `127.0.0.1:${port}`, '--timeout', '3', ...extra, master, `ssh://root@127.0.0.1:${nobody}:/srv/mirror`]);
    stack.defer('stop gsyncd', () => run.kill9());
    const base = `http://127.0.0.1:${port}`;
    try {
      await waitFor(async () => (await get(`${base}/status`).catch(() => null))?.status === 200, { timeoutMs: 30_000, what: '/status' });
      // Give the worker time to try the slave and report it down.
      await waitFor(async () => (await get(`${base}/metrics`)).body.includes('gsyncd_slave_connected{') && /gsyncd_slave_connected\{[^}]*\} 0/.test((await get(`${base}/metrics`)).body), { timeoutMs: 30_000, what: 'slave reported down' });
      const ready = await get(`${base}/readyz?verbose`);
      const live = await get(`${base}/livez`);
      return { ready, live };
    } finally {
      const code = await run.stop();
      t.diagnostic(`stopped with ${code}`);
    }
  };
  const strict = await probe(['--ready-requires-slave', '--session-name', 'strict']);
  assert.equal(strict.ready.status, 503, strict.ready.body);
  assert.match(strict.ready.body, /slave_unreachable/);
  assert.equal(strict.live.status, 200);
  const lenient = await probe(['--session-name', 'lenient']);
  assert.equal(lenient.ready.status, 200, lenient.ready.body);
});
