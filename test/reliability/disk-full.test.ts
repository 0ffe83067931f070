// Reliability 3 - slave disk full. The slave is a 16 MiB tmpfs; a continuous session has synced a
// small tree into it, then 40 MiB of new files arrive on the master. Expected while the slave is
// full: a clear error (rsync's "No space left on device" in a warn/error log line, /status
// degraded, state.json lastError), retries (rsync and whole passes run again and again), and
// the stime never advanced: the slave root mark and the state's rootStime stay where they were,
// syncedUpTo never reaches the moment the data appeared, and the new directory carries no mark.
// After the tmpfs is grown (remount,size=) the session completes by itself: identical trees, the
// root mark moved forward, /status in-sync.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { getAttributeSync, listAttributesSync } from '@napi-rs/xattr';
import { compareTrees, diffR } from '../support/compare.js';
import { startGsyncd } from '../support/gsyncd.js';
import { freePort, mustRun, requireRoot, requireTools, sleep, testCleanup, tmpDir, unmount, waitFor } from '../support/proc.js';
import { makeSmallFiles } from '../support/workload.js';
import { converge, getStatus, logLines, readStateFile, stopRun } from './lib.js';

const STALL_S = 10;

/** The session's marks on a slave directory: key → hex value. */
function marks(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const k of listAttributesSync(dir)) if (/^trusted\.gsyncd\..*\.xtime$/.test(k)) out.set(k, getAttributeSync(dir, k)!.toString('hex'));
  return out;
}

test('slave disk full: clear error, retries, stime not advanced; completes once space returns', { timeout: 230_000 }, async (t) => {
  requireRoot();
  requireTools(['rsync', 'mount', 'diff']);
  const stack = testCleanup(t);
  const masterDir = await tmpDir('full-master', stack);
  const stateDir = await tmpDir('full-state', stack);
  const slaveDir = await tmpDir('full-slave', stack);
  await mustRun('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0755', 'gsyncd-test-full', slaveDir]);
  stack.defer(`unmount ${slaveDir}`, () => unmount(slaveDir));
  const port = await freePort();
  const http = `http://127.0.0.1:${port}`;
  const session = 'diskfull';
  const stateFile = path.join(stateDir, session, 'state.json');

  makeSmallFiles(masterDir, 200, 4, 4096);
  // --max-rsync-retries 2: passes end (incomplete) within the observation window, so the
  // decision whether to stamp marks is taken again and again while the slave is full.
  const run = startGsyncd(['--state-dir', stateDir, '--session-name', session, '--http-bind', `127.0.0.1:${port}`, '--change-interval', '0.3',
    '--stall-timeout', String(STALL_S), '--max-rsync-retries', '2', '--log-level', 'info', masterDir, slaveDir]);
  stack.defer('stop gsyncd', () => stopRun(run));
  await converge(masterDir, slaveDir, 'the first sync', 60_000);
  await waitFor(async () => (await getStatus(http))?.verdict === 'in-sync', { what: '/status in-sync', timeoutMs: 30_000, intervalMs: 300 });
  // Idle: no pass running that could still stamp an older xtime.
  let stable = readStateFile(stateFile)?.rootStime;
  let since = Date.now();
  await waitFor(() => {
    const now = readStateFile(stateFile)?.rootStime;
    if (now !== stable) { stable = now; since = Date.now(); }
    return Date.now() - since > 3000;
  }, { what: 'the root stime to stay put for 3 s', timeoutMs: 30_000, intervalMs: 200 });
  const before = readStateFile(stateFile)!;
  const rootMarks = marks(slaveDir);
  assert.equal(rootMarks.size, 1, `the slave root carries the session's mark: ${[...rootMarks.keys()].join(', ')}`);
  const [markKey, markBefore] = [...rootMarks][0]!;
  t.diagnostic(`before: root mark ${markBefore}, rootStime ${before.rootStime}, syncedUpTo ${new Date(before.syncedUpTo!).toISOString()}`);

  // 40 MiB of incompressible data for a 16 MiB slave, appearing at once (one rename), so every
  // pass from now on sees all of it and none can complete.
  const staging = path.join(await tmpDir('full-staging', stack), 'big');
  fs.mkdirSync(staging);
  for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(staging, `blob${i}`), randomBytes(2 << 20));
  const fullFrom = Date.now();
  fs.renameSync(staging, path.join(masterDir, 'big'));

  // The error is clear and the session keeps retrying; watch it for a while.
  let degraded: Awaited<ReturnType<typeof getStatus>> = null;
  const errorLine = await waitFor(() => logLines(run.output()).find((l) => Number(l['level']) >= 40 && /No space left on device/.test(JSON.stringify(l))),
    { what: 'a warning or error log line quoting "No space left on device"', timeoutMs: 60_000, intervalMs: 300 });
  t.diagnostic(`error: ${JSON.stringify(errorLine).slice(0, 600)}`);
  const watchUntil = Date.now() + 25_000;
  while (Date.now() < watchUntil) {
    const st = await getStatus(http);
    if (st?.verdict === 'degraded') degraded = st;
    const now = readStateFile(stateFile)!;
    assert.equal(now.rootStime, before.rootStime, 'rootStime must not advance while data is missing on the slave');
    // An idle pass that began just before the new data was seen may still move synced-up-to,
    // but never up to the moment the data appeared.
    assert.ok(now.syncedUpTo! < fullFrom, `syncedUpTo must not reach the time the missing data appeared: ${new Date(now.syncedUpTo!).toISOString()} >= ${new Date(fullFrom).toISOString()}`);
    assert.equal(marks(slaveDir).get(markKey), markBefore, 'the slave root mark must not advance while data is missing on the slave');
    if (fs.existsSync(path.join(slaveDir, 'big'))) assert.equal(marks(path.join(slaveDir, 'big')).size, 0, 'the incomplete directory must carry no mark');
    await sleep(500);
  }
  const attempts = logLines(run.output()).filter((l) => l['msg'] === 'rsync failed' && Date.parse(String(l['time'])) >= fullFrom).length;
  const passes = logLines(run.output()).filter((l) => /^pass (failed|incomplete)/.test(String(l['msg'])) && Date.parse(String(l['time'])) >= fullFrom).length;
  t.diagnostic(`while full: ${attempts} failed rsync runs, ${passes} incomplete/failed passes; /status ${degraded ? `degraded ${JSON.stringify(degraded.reasons.map((r) => r.code))}` : 'never degraded'}`);
  assert.ok(attempts >= 2, `rsync is retried while the slave is full (${attempts} failed runs logged)`);
  assert.ok(degraded, '/status reported degraded while the slave was full');
  assert.ok(passes >= 2, `passes end incomplete and are retried while the slave is full (${passes} logged)`);
  const state = readStateFile(stateFile)!;
  assert.ok(state.lastError?.message, `state.json carries the reason of the incomplete pass: ${JSON.stringify(state)}`);
  t.diagnostic(`state.json while full: workerState ${state.workerState}, lastError ${JSON.stringify(state.lastError)}`);
  const df = (await mustRun('df', ['-k', '--output=used,size', slaveDir])).stdout.trim().split('\n')[1];
  t.diagnostic(`slave tmpfs used/size KiB: ${df}`);

  // Space returns: the session completes by itself.
  await mustRun('mount', ['-o', 'remount,size=128m', slaveDir]);
  const grownAt = Date.now();
  await converge(masterDir, slaveDir, 'the slave to complete after space returned', 120_000);
  t.diagnostic(`complete ${((Date.now() - grownAt) / 1000).toFixed(1)} s after space returned`);
  assert.deepEqual(compareTrees(masterDir, slaveDir), []);
  assert.equal(await diffR(masterDir, slaveDir), '');
  const after = await waitFor(() => {
    const s = readStateFile(stateFile);
    return s?.rootStime && s.rootStime !== before.rootStime ? s : null;
  }, { what: 'rootStime to advance after completion', timeoutMs: 30_000, intervalMs: 300 });
  assert.ok(after.syncedUpTo! > before.syncedUpTo!, 'syncedUpTo advanced');
  assert.notEqual(marks(slaveDir).get(markKey), markBefore, 'the slave root mark advanced');
  assert.equal(marks(path.join(slaveDir, 'big')).size, 1, 'the completed directory is marked');
  await waitFor(async () => (await getStatus(http))?.verdict === 'in-sync', { what: `/status in-sync again (rsync errors count for --stall-timeout ${STALL_S} s)`, timeoutMs: 30_000 + STALL_S * 1000, intervalMs: 500 });
});
