// Reliability 2 - network partition. A continuous session (master in namespace A, slave in B
// over SSH, --timeout 5) is cut off from its slave in the middle of a batch: blackhole routes in
// both namespaces drop every packet between A and B (the TCP connection is not reset: it just
// goes silent, like a pulled cable or a dead router). The outage lasts 6 × --timeout. The master
// must notice (the RPC keep-alive fails after --timeout), report it (state.json `faulty` with a
// lastError, /status verdict `degraded`) while the link is down, mark nothing it did not
// confirm, and once the routes are removed reconnect by itself and converge, /status back to
// in-sync. Subnet block 223 (docs/testing.md).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { compareTrees, diffR } from '../support/compare.js';
import { mustRun, requireRoot, requireTools, sleep, testCleanup, waitFor } from '../support/proc.js';
import { makeSmallFiles } from '../support/workload.js';
import { converge, getStatus, processes, readStateFile, remoteSession, rsyncsOf, workerOf, type StatusReply } from './lib.js';

const TIMEOUT_S = 5;
const OUTAGE_MS = 6 * TIMEOUT_S * 1000;
const STALL_S = 10;

test(`a silent network partition longer than --timeout mid-batch: detected, reported degraded, resumed when the link returns`, { timeout: 200_000 }, async (t) => {
  requireRoot();
  requireTools(['ip', 'rsync', '/usr/sbin/sshd']);
  const stack = testCleanup(t);
  const s = await remoteSession(223, stack);
  makeSmallFiles(s.masterDir, 500, 5, 2000);
  const run = s.start(['--log-level', 'info', '--timeout', String(TIMEOUT_S), '--change-interval', '0.3',
    // rsync errors keep /status degraded for stall-timeout (600 s by default): keep that short.
    '--stall-timeout', String(STALL_S),
    // A slow transfer, so the partition surely falls inside a batch.
    '--rsync-options', '--sparse --bwlimit=2000']);
  await converge(s.masterDir, s.slaveDir, 'the initial sync', 60_000);
  await waitFor(async () => (await getStatus(s.httpBase))?.verdict === 'in-sync', { what: '/status in-sync before the outage', timeoutMs: 30_000, intervalMs: 300 });
  const before = readStateFile(s.stateFile);
  assert.ok(before?.syncedUpTo, 'synced-up-to is known before the outage');

  // A batch of incompressible data that takes a while at 2 MB/s.
  const writtenAt = Date.now();
  fs.mkdirSync(path.join(s.masterDir, 'big'));
  for (let i = 0; i < 12; i++) fs.writeFileSync(path.join(s.masterDir, 'big', `blob${i}`), randomBytes(1 << 20));
  const inFlight = await waitFor(() => {
    const all = processes();
    const w = workerOf(run.child.pid!, all);
    return w && rsyncsOf(w.pid, all).length > 0 ? w : null;
  }, { what: 'rsync to be transferring the new batch', timeoutMs: 20_000, intervalMs: 20 });
  await sleep(700);

  // Partition: A and B drop each other's packets (no RST, no ICMP).
  const blackhole = async (op: 'add' | 'del') => {
    await mustRun('ip', ['-n', s.hosts.a.name, 'route', op, 'blackhole', `${s.hosts.b.ip}/32`]);
    await mustRun('ip', ['-n', s.hosts.b.name, 'route', op, 'blackhole', `${s.hosts.a.ip}/32`]);
  };
  let partitioned = true;
  await blackhole('add');
  stack.defer('remove the blackhole routes', async () => { if (partitioned) await blackhole('del').catch(() => {}); });
  const downAt = Date.now();
  const arrived = fs.existsSync(path.join(s.slaveDir, 'big')) ? fs.readdirSync(path.join(s.slaveDir, 'big')).filter((f) => !f.startsWith('.')).length : 0;
  t.diagnostic(`link down while worker ${inFlight.pid} was sending the batch (${arrived}/12 files on the slave)`);

  // While the link is down: detected and reported.
  let degradedAt: number | null = null;
  let degraded: StatusReply | null = null;
  let faultyState: ReturnType<typeof readStateFile> = null;
  while (Date.now() - downAt < OUTAGE_MS) {
    const st = await getStatus(s.httpBase);
    if (degradedAt === null && st?.verdict === 'degraded') { degradedAt = Date.now(); degraded = st; }
    const state = readStateFile(s.stateFile);
    if (!faultyState && state?.workerState === 'faulty') faultyState = state;
    await sleep(250);
  }
  const duringState = readStateFile(s.stateFile);
  await blackhole('del');
  partitioned = false;
  const upAt = Date.now();
  const log = s.output();
  const detection = log.split('\n').filter((l) => Date.parse(/"time":"([^"]+)"/.exec(l)?.[1] ?? '') >= downAt &&
    /connection to peer is broken|keep-alive failed|slave connection closed|connection inactive|Keepalive|timed? ?out/i.test(l)).slice(0, 3);
  const firstAt = Date.parse(/"time":"([^"]+)"/.exec(detection[0] ?? '')?.[1] ?? '');
  t.diagnostic(`first detection ${Number.isNaN(firstAt) ? 'never' : `${((firstAt - downAt) / 1000).toFixed(1)} s after the link went down`}`);
  t.diagnostic(`detection log lines: ${detection.map((l) => l.slice(0, 260)).join('\n  ') || '(none)'}`);
  t.diagnostic(`degraded ${degradedAt === null ? 'never reported' : `reported ${((degradedAt - downAt) / 1000).toFixed(1)} s after the link went down`}: ${JSON.stringify(degraded?.reasons ?? [])}`);

  assert.ok(detection.length > 0, `the master logged nothing about the lost slave during a ${OUTAGE_MS / 1000} s outage (--timeout ${TIMEOUT_S})`);
  assert.ok(degradedAt !== null, `/status never said degraded during the ${OUTAGE_MS / 1000} s outage (--timeout ${TIMEOUT_S}); last: ${JSON.stringify(await getStatus(s.httpBase))}`);
  assert.ok(faultyState, `state.json never showed the worker faulty during the outage; it said ${duringState?.workerState}`);
  assert.ok(faultyState.lastError?.message, 'the faulty state carries the reason (lastError)');
  // Nothing unconfirmed was recorded as synced: synced-up-to never reached the moment the batch appeared.
  assert.ok((duringState?.syncedUpTo ?? 0) < writtenAt, `synced-up-to advanced to ${new Date(duringState?.syncedUpTo ?? 0).toISOString()}, past the unsynced batch written at ${new Date(writtenAt).toISOString()}`);

  // Link back: reconnect and converge without help.
  const ms = await converge(s.masterDir, s.slaveDir, 'the slave to catch up after the link returned', 90_000);
  t.diagnostic(`converged ${((Date.now() - upAt) / 1000).toFixed(1)} s after the link returned (${ms} ms of polling)`);
  assert.deepEqual(compareTrees(s.masterDir, s.slaveDir), []);
  assert.equal(await diffR(s.masterDir, s.slaveDir), '');
  const back = await waitFor(async () => { const st = await getStatus(s.httpBase); return st?.verdict === 'in-sync' ? st : null; }, { what: `/status back to in-sync (rsync errors count for --stall-timeout ${STALL_S} s)`, timeoutMs: 30_000 + STALL_S * 1000, intervalMs: 500 });
  const after = readStateFile(s.stateFile);
  assert.equal(after?.workerState, 'active');
  assert.ok((after?.syncedUpTo ?? 0) > (before.syncedUpTo ?? 0), 'synced-up-to advanced after the link returned');
  t.diagnostic(`after: ${back.verdict}, worker restarts ${after?.restarts}, state ${after?.workerState}`);
});
