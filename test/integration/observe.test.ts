// Observability on a real session: a directory master and a remote slave behind a real sshd.
// After the initial sync the lag drops to about change-interval + xtime-settle and stays there
// while idle (no false lag on a quiet source); with the slave gone /status turns degraded while
// /readyz stays 200 (a master whose slave is down is not unready); /metrics never fails.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { GSYNCD_BIN, startGsyncd } from '../support/gsyncd.js';
import { freePort, requireRoot, sleep, testCleanup, tmpDir, waitFor } from '../support/proc.js';
import { startSshd } from '../support/sshd.js';

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

function metric(body: string, name: string): number | null {
  const line = body.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : null;
}

test('lag is ~0 after sync and stays ~0 while idle; a lost slave is degraded, not unready', { timeout: 300_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const masterDir = await tmpDir('master', stack);
  const slaveDir = await tmpDir('slave', stack);
  for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(masterDir, `f${i}`), `data ${i}`);
  const sshd = await startSshd({ cleanup: stack });
  await sshd.setAuthorizedKey(`command="${process.execPath} ${GSYNCD_BIN} --dispatch --root ${slaveDir}",restrict ${sshd.clientKeyPub}`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const changeInterval = 0.2;
  const settle = 0.5;
  const run = startGsyncd(['--state-dir', await tmpDir('state', stack), '--http-bind', `127.0.0.1:${port}`, '--change-interval', String(changeInterval),
    '--xtime-settle', String(settle), '--timeout', '4', '--ssh-identity', sshd.clientKeyPath, '--ssh-known-hosts', sshd.knownHostsFile,
    masterDir, `ssh://root@127.0.0.1:${sshd.port}:${slaveDir}`]);
  stack.defer('stop gsyncd', async () => { await run.stop(); });
  try {
    await waitFor(async () => (await get(`${base}/status`).catch(() => null))?.body.includes('"verdict":"in-sync"') ?? false, { timeoutMs: 60_000, what: 'in-sync' });
    assert.equal(fs.readdirSync(slaveDir).length, 50);
    // Idle: nothing changes for many poll intervals; the lag must not ramp up.
    const lags: number[] = [];
    for (let i = 0; i < 8; i++) {
      await sleep(500);
      const m = await get(`${base}/metrics`);
      assert.equal(m.status, 200);
      const lag = metric(m.body, 'gsyncd_sync_lag_seconds');
      assert.notEqual(lag, null, 'lag is exported once the initial sync completed');
      lags.push(lag!);
    }
    t.diagnostic(`idle lags: ${lags.join(', ')}`);
    for (const lag of lags) assert.ok(lag < changeInterval + settle + 1.5, `idle lag ${lag} s should stay near change-interval + settle`);
    assert.equal((await get(`${base}/readyz`)).status, 200);

    // The slave host goes away (sshd and its sessions): degraded, still ready, metrics still served.
    await sshd.stop();
    fs.writeFileSync(path.join(masterDir, 'after-slave-loss'), 'x');
    await waitFor(async () => (await get(`${base}/status`)).body.includes('"verdict":"degraded"'), { timeoutMs: 120_000, what: 'degraded verdict' });
    assert.equal((await get(`${base}/readyz`)).status, 200, '/readyz must stay 200 while the slave is down');
    const m = await get(`${base}/metrics`);
    assert.equal(m.status, 200);
    assert.equal(metric(m.body, 'gsyncd_slave_connected'), 0);
  } catch (err) {
    t.diagnostic(run.output().slice(-6000));
    throw err;
  }
});
