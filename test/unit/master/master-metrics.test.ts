import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EntryOp, OpResult } from '../../../src/core/ops.js';
import { attachMasterMetrics, sessionInfoOf } from '../../../src/master/master-metrics.js';
import { createMetrics } from '../../../src/observe/metrics.js';
import type { RsyncRun } from '../../../src/transport/rsync.js';
import { parseUrl } from '../../../src/url/url.js';
import { find, passReport, samples, sessionState, value } from '../observe/support.js';

const session = 'gv0_backup1_gv0b';
const SB = { session, brick: '0' };

function setup(start = 1_700_000_000_000) {
  const clock = { now: start };
  const m = createMetrics('master', { now: () => clock.now });
  const hooks = attachMasterMetrics(m, { session, brick: '0', now: () => clock.now, ...sessionInfoOf(parseUrl(':gv0'), parseUrl('gsyncd@backup1::gv0b')) });
  return { clock, m, hooks, scrape: () => samples(m.registry) };
}

const ok: OpResult = { ok: true };
const bad: OpResult = { ok: false, errno: 'EACCES', message: 'permission denied' };
const run = (over: Partial<RsyncRun> & { files?: number }): RsyncRun => ({ result: 'ok', exitCode: 0, bytesSent: 0, filesTransferred: 0, stderr: '', stderrCut: false, durationMs: 0, ...over });

describe('attachMasterMetrics: state', () => {
  it('sets the info metrics from the URLs, hosts only there', async () => {
    const { scrape } = setup();
    const s = await scrape();
    assert.deepEqual(find(s, 'gsyncd_session_info')[0]?.labels, {
      session, master_kind: 'gluster', master_volume: 'gv0', slave_kind: 'gluster', slave_host: 'backup1', slave_volume: 'gv0b', sync_method: 'rsync',
    });
    assert.equal(value(s, 'gsyncd_master_mount_up', { session }), 0, 'gluster master: mount gauge pre-initialised');
    const hosts = s.filter((x) => !x.name.endsWith('_info') && Object.values(x.labels).some((v) => v.includes('backup1') && v !== session));
    assert.deepEqual(hosts, []);
  });

  it('worker and crawl StateSets: exactly one series is 1; halted is exported as stopped', async () => {
    const { hooks, scrape } = setup();
    for (const [ws, expected] of [['active', 'active'], ['faulty', 'faulty'], ['halted', 'stopped'], ['passive', 'passive']] as const) {
      hooks.onState(sessionState({ workerState: ws, crawlState: 'watch' }));
      const s = await scrape();
      assert.deepEqual(find(s, 'gsyncd_worker_state', SB).filter((x) => x.value === 1).map((x) => x.labels.state), [expected]);
      assert.equal(find(s, 'gsyncd_worker_state', SB).length, 6);
      assert.deepEqual(find(s, 'gsyncd_crawl_state', SB).filter((x) => x.value === 1).map((x) => x.labels.state), ['watch']);
    }
  });

  it('a safety halt sets its reason to 1, the others stay 0, and clears', async () => {
    const { hooks, scrape } = setup();
    hooks.onState(sessionState({ workerState: 'halted', halt: { reason: 'root_emptied', since: 'x', detail: 'y' } }));
    let s = await scrape();
    assert.deepEqual(find(s, 'gsyncd_safety_halted', { session }).map((x) => [x.labels.reason, x.value]),
      [['root_emptied', 1], ['root_type_changed', 0], ['slave_root_changed', 0], ['mount_missing', 0], ['mass_delete', 0]]);
    hooks.onState(sessionState());
    s = await scrape();
    assert.ok(find(s, 'gsyncd_safety_halted').every((x) => x.value === 0));
  });

  it('restarts count what the monitor added since attach', async () => {
    const { hooks, scrape } = setup();
    hooks.onState(sessionState({ restarts: 7 }));
    hooks.onState(sessionState({ restarts: 9 }));
    hooks.onState(sessionState({ restarts: 9 }));
    assert.equal(value(await scrape(), 'gsyncd_worker_restarts_total', SB), 2);
  });
});

describe('attachMasterMetrics: synced_up_to and lag (§2)', () => {
  it('before the initial sync: no synced_up_to, no lag; progress in crawl_entries_total', async () => {
    const { hooks, scrape } = setup();
    hooks.onState(sessionState({ initialSyncCompleted: false, crawlState: 'initial' }));
    hooks.onScanned(120);
    hooks.onScanned(30);
    const s = await scrape();
    assert.equal(find(s, 'gsyncd_synced_up_to_timestamp_seconds').length, 0);
    assert.equal(find(s, 'gsyncd_sync_lag_seconds').length, 0);
    assert.equal(value(s, 'gsyncd_initial_sync_completed', SB), 0);
    assert.equal(value(s, 'gsyncd_crawl_entries_total', SB), 150);
  });

  it('state lost but the initial sync counts as done: absent until the first pass ends', async () => {
    const { clock, hooks, scrape } = setup();
    hooks.onState(sessionState({ initialSyncCompleted: true, syncedUpTo: undefined }));
    let s = await scrape();
    assert.equal(value(s, 'gsyncd_initial_sync_completed', SB), 1);
    assert.equal(find(s, 'gsyncd_sync_lag_seconds').length, 0);
    hooks.onPass(passReport({ idle: true }), clock.now - 2000);
    s = await scrape();
    assert.equal(value(s, 'gsyncd_sync_lag_seconds', SB), 2);
  });

  it('the first complete pass makes both appear', async () => {
    const { clock, hooks, scrape } = setup();
    hooks.onState(sessionState({ initialSyncCompleted: false, crawlState: 'initial' }));
    const t0 = clock.now;
    clock.now += 60_000;
    hooks.onPass(passReport(), t0 - 2000);
    const s = await scrape();
    assert.equal(value(s, 'gsyncd_synced_up_to_timestamp_seconds', SB), (t0 - 2000) / 1000);
    assert.equal(value(s, 'gsyncd_sync_lag_seconds', SB), 62);
  });

  it('idle rule: on repeated idle passes the lag stays ≈ change-interval + settle, never a ramp', async () => {
    const { clock, hooks, scrape } = setup();
    const changeInterval = 500;
    const settle = 2000;
    let syncedUpTo = clock.now - settle;
    hooks.onState(sessionState({ syncedUpTo, crawlState: 'idle' }));
    const lags: number[] = [];
    for (let pass = 0; pass < 50; pass++) {
      clock.now += changeInterval; // waitForChange(change-interval) times out: nothing changed
      const t0 = clock.now;
      hooks.onState(sessionState({ syncedUpTo, crawlState: 'xtime' }));
      clock.now += 3; // the idle pass itself: read the root xtime, compare
      syncedUpTo = Math.max(syncedUpTo, t0 - settle); // worker.advance (rule 1), also for idle passes (rule 2)
      hooks.onPass(passReport({ idle: true }), syncedUpTo);
      hooks.onState(sessionState({ syncedUpTo, crawlState: 'idle' }));
      clock.now += Math.floor(changeInterval / 2); // a scrape somewhere in the wait
      lags.push(value(await scrape(), 'gsyncd_sync_lag_seconds', SB)!);
      clock.now -= Math.floor(changeInterval / 2);
    }
    const bound = (changeInterval + settle + 10) / 1000;
    assert.ok(lags.every((l) => l <= bound), `lags ${lags.slice(0, 5)}… max ${Math.max(...lags)} > ${bound}`);
    assert.ok(Math.max(...lags) - Math.min(...lags) < 0.01, 'flat, not growing with the number of idle passes');
    const s = await scrape();
    assert.equal(value(s, 'gsyncd_batches_total', { session, result: 'noop' }), 50, 'idle passes are acknowledged noop batches');
    assert.ok(value(s, 'gsyncd_last_successful_batch_timestamp_seconds', SB)! >= (clock.now - changeInterval) / 1000, 'heartbeat keeps moving');
  });

  it('a failed pass leaves synced_up_to unchanged and the lag grows', async () => {
    const { clock, hooks, scrape } = setup();
    const synced = clock.now - 2000;
    hooks.onState(sessionState({ syncedUpTo: synced }));
    clock.now += 30_000;
    hooks.onPass(passReport({ complete: false, failures: ['x: rsync exit 23'] }), synced);
    assert.equal(value(await scrape(), 'gsyncd_sync_lag_seconds', SB), 32);
  });

  it('a passive worker has no lag or synced_up_to; an active one gets them back', async () => {
    const { clock, hooks, scrape } = setup();
    hooks.onState(sessionState({ syncedUpTo: clock.now - 1000 }));
    assert.equal(find(await scrape(), 'gsyncd_sync_lag_seconds').length, 1);
    hooks.onState(sessionState({ workerState: 'passive', syncedUpTo: clock.now - 1000 }));
    let s = await scrape();
    assert.equal(find(s, 'gsyncd_sync_lag_seconds').length, 0);
    assert.equal(find(s, 'gsyncd_synced_up_to_timestamp_seconds').length, 0);
    hooks.onState(sessionState({ workerState: 'active', syncedUpTo: clock.now - 1000 }));
    s = await scrape();
    assert.equal(find(s, 'gsyncd_sync_lag_seconds').length, 1);
    hooks.detach();
    assert.equal(find(await scrape(), 'gsyncd_sync_lag_seconds').length, 0);
  });

  it('the lag of a halted or faulty worker keeps growing: that is real exposure', async () => {
    const { clock, hooks, scrape } = setup();
    hooks.onState(sessionState({ workerState: 'faulty', syncedUpTo: clock.now }));
    clock.now += 7000;
    assert.equal(value(await scrape(), 'gsyncd_sync_lag_seconds', SB), 7);
  });
});

describe('attachMasterMetrics: engine events', () => {
  it('entry ops by op and result; marks are not operations', async () => {
    const { hooks, scrape } = setup();
    const ops: EntryOp[] = [
      { op: 'mkdir', path: 'a', mode: 0o755, uid: 0, gid: 0 },
      { op: 'delete', path: 'b', type: 'dir' },
      { op: 'delete', path: 'c', type: 'file' },
      { op: 'rename', from: 'd', to: 'e' },
      { op: 'mark', path: '', xtime: { sec: 1, usec: 0 } },
    ];
    hooks.onEntryOps(ops, [ok, ok, bad, ok, ok]);
    const s = await scrape();
    const nonzero = find(s, 'gsyncd_operations_total', { session }).filter((x) => x.value > 0).map((x) => `${x.labels.op}/${x.labels.result}=${x.value}`);
    assert.deepEqual(nonzero.sort(), ['mkdir/success=1', 'rename/success=1', 'rmdir/success=1', 'unlink/error=1']);
  });

  it('rsync runs: exit class, wire bytes, data operations', async () => {
    const { hooks, scrape } = setup();
    hooks.onRsync(run({ result: 'ok', bytesSent: 1000, filesTransferred: 3 }));
    hooks.onRsync({ ...run({ result: 'vanished', bytesSent: 10, filesTransferred: 1 }), files: 4 } as RsyncRun);
    hooks.onRsync({ ...run({ result: 'partial', exitCode: 23, bytesSent: 5, filesTransferred: 0 }), files: 2 } as RsyncRun);
    const s = await scrape();
    assert.equal(value(s, 'gsyncd_rsync_runs_total', { session, result: 'ok' }), 1);
    assert.equal(value(s, 'gsyncd_rsync_runs_total', { session, result: 'vanished' }), 1);
    assert.equal(value(s, 'gsyncd_rsync_runs_total', { session, result: 'partial' }), 1);
    assert.equal(value(s, 'gsyncd_transferred_bytes_total', { session }), 1015);
    assert.equal(value(s, 'gsyncd_operations_total', { session, op: 'data', result: 'success' }), 4);
    assert.equal(value(s, 'gsyncd_operations_total', { session, op: 'data', result: 'noop' }), 3);
    assert.equal(value(s, 'gsyncd_operations_total', { session, op: 'data', result: 'error' }), 2);
  });

  it('batches by outcome; file bytes and heartbeat only for acknowledged ones', async () => {
    const { clock, hooks, scrape } = setup();
    const batch = { entryOps: 2, dataFiles: 3, dataBytes: 4096, bytesSent: 100, failures: 0, durationMs: 5 };
    hooks.onBatch(batch);
    hooks.onBatch({ ...batch, entryOps: 0, dataFiles: 0, dataBytes: 0 });
    clock.now += 10_000;
    hooks.onBatch({ ...batch, failures: 1 });
    const s = await scrape();
    assert.equal(value(s, 'gsyncd_batches_total', { session, result: 'success' }), 1);
    assert.equal(value(s, 'gsyncd_batches_total', { session, result: 'noop' }), 1);
    assert.equal(value(s, 'gsyncd_batches_total', { session, result: 'error' }), 1);
    assert.equal(value(s, 'gsyncd_synced_file_bytes_total', { session }), 4096);
    assert.equal(value(s, 'gsyncd_last_successful_batch_timestamp_seconds', SB), (clock.now - 10_000) / 1000);
  });

  it('batch phases are timed from event gaps and observed per batch', async () => {
    const { clock, hooks, scrape } = setup();
    hooks.onState(sessionState({ crawlState: 'idle' }));
    clock.now += 999_000; // the wait between passes is no phase
    hooks.onState(sessionState({ crawlState: 'xtime' }));
    clock.now += 3000; hooks.onScanned(10); // 3 s crawl
    clock.now += 1000; hooks.onEntryOps([{ op: 'mkdir', path: 'a', mode: 0o755, uid: 0, gid: 0 }], [ok]); // 1 s entry
    clock.now += 20_000; hooks.onRsync(run({ filesTransferred: 1 })); // 20 s data
    clock.now += 500; hooks.onEntryOps([{ op: 'setattr', path: 'a', mode: 0o700 }], [ok]); // 0.5 s meta
    hooks.onBatch({ entryOps: 2, dataFiles: 1, dataBytes: 1, bytesSent: 1, failures: 0, durationMs: 21_500 });
    clock.now += 200; hooks.onEntryOps([{ op: 'mark', path: '', xtime: { sec: 2, usec: 0 } }], [ok]); // 0.2 s stime
    hooks.onPass(passReport(), clock.now - 30_000);
    const s = await scrape();
    const sum = (phase: string) => value(s, 'gsyncd_batch_duration_seconds_sum', { session, phase });
    const count = (phase: string) => value(s, 'gsyncd_batch_duration_seconds_count', { session, phase });
    assert.deepEqual(['crawl', 'entry', 'data', 'meta', 'stime'].map(sum), [3, 1, 20, 0.5, 0.2]);
    assert.deepEqual(['crawl', 'entry', 'data', 'meta', 'stime'].map(count), [1, 1, 1, 1, 1]);
    assert.equal(value(s, 'gsyncd_batch_duration_seconds_bucket', { session, phase: 'data', le: '10' }), 0);
    assert.equal(value(s, 'gsyncd_batch_duration_seconds_bucket', { session, phase: 'data', le: '30' }), 1);
  });

  it('explicit phase times in the batch summary win over event gaps', async () => {
    const { hooks, scrape } = setup();
    hooks.onBatch({ entryOps: 1, dataFiles: 0, dataBytes: 0, bytesSent: 0, failures: 0, durationMs: 1, phasesMs: { entry: 4000, data: 0 } } as never);
    const s = await scrape();
    assert.equal(value(s, 'gsyncd_batch_duration_seconds_sum', { session, phase: 'entry' }), 4);
    assert.equal(value(s, 'gsyncd_batch_duration_seconds_count', { session, phase: 'data' }), 1);
    assert.equal(value(s, 'gsyncd_batch_duration_seconds_count', { session, phase: 'crawl' }), 0);
  });
});

describe('attachMasterMetrics: checkpoint', () => {
  it('timestamp 0 without one; completed appears with it and flips at synced_up_to ≥ T_c', async () => {
    const { clock, hooks, scrape } = setup();
    const target = clock.now - 10_000;
    hooks.onState(sessionState({ syncedUpTo: target - 5000 }));
    let s = await scrape();
    assert.equal(value(s, 'gsyncd_checkpoint_timestamp_seconds', { session }), 0);
    assert.equal(find(s, 'gsyncd_checkpoint_completed').length, 0);
    hooks.onState(sessionState({ syncedUpTo: target - 5000, checkpoint: { target } }));
    s = await scrape();
    assert.equal(value(s, 'gsyncd_checkpoint_timestamp_seconds', { session }), target / 1000);
    assert.equal(value(s, 'gsyncd_checkpoint_completed', { session }), 0);
    assert.equal(find(s, 'gsyncd_checkpoint_completion_timestamp_seconds').length, 0);
    hooks.onPass(passReport({ idle: true }), target + 1);
    s = await scrape();
    assert.equal(value(s, 'gsyncd_checkpoint_completed', { session }), 1);
    hooks.onState(sessionState({ syncedUpTo: target + 1, checkpoint: { target, completedAt: clock.now } }));
    s = await scrape();
    assert.equal(value(s, 'gsyncd_checkpoint_completion_timestamp_seconds', { session }), clock.now / 1000);
    hooks.onState(sessionState({ syncedUpTo: target + 1 }));
    s = await scrape();
    assert.equal(find(s, 'gsyncd_checkpoint_completed').length, 0, 'cleared checkpoint: series gone');
    assert.equal(value(s, 'gsyncd_checkpoint_timestamp_seconds', { session }), 0);
  });
});

describe('attachMasterMetrics: transport, mount, monitor and live facts', () => {
  it('slave link, ssh attempts, mount, skips, pending, verify', async () => {
    const { clock, hooks, scrape } = setup();
    hooks.onSshConnect('timeout');
    hooks.onSshConnect('ok');
    hooks.setSlaveConnected(true);
    hooks.setMountUp(true);
    hooks.onSkipped('permission_denied', 2);
    hooks.setPending({ entry: 5, data: 2, bytes: 1 << 20 });
    hooks.onVerify(3, clock.now);
    const s = await scrape();
    assert.equal(value(s, 'gsyncd_ssh_connects_total', { session, result: 'timeout' }), 1);
    assert.equal(value(s, 'gsyncd_slave_connected', { session }), 1);
    assert.equal(value(s, 'gsyncd_master_mount_up', { session }), 1);
    assert.equal(value(s, 'gsyncd_skipped_files_total', { session, reason: 'permission_denied' }), 2);
    assert.equal(value(s, 'gsyncd_pending_operations', { ...SB, type: 'entry' }), 5);
    assert.equal(value(s, 'gsyncd_pending_operations', { ...SB, type: 'meta' }), 0);
    assert.equal(value(s, 'gsyncd_pending_bytes', SB), 1 << 20);
    assert.equal(value(s, 'gsyncd_verify_drifted_entries', { session }), 3);
    const live = hooks.live();
    assert.deepEqual(live.pending, { entry: 5, data: 2, meta: 0, bytes: 1 << 20 });
    assert.equal(live.lastSkipAt, clock.now);
  });

  it('live(): disconnect time is when the link went down, not each report', () => {
    const { clock, hooks } = setup();
    hooks.setSlaveConnected(true);
    const down = (clock.now += 1000);
    hooks.setSlaveConnected(false);
    clock.now += 5000;
    hooks.setSlaveConnected(false);
    assert.equal(hooks.live().slaveDisconnectedSince, down);
    hooks.setSlaveConnected(true);
    assert.equal(hooks.live().slaveDisconnectedSince, null);
    hooks.onRsync(run({ result: 'error', exitCode: 12 }));
    assert.equal(hooks.live().lastRsyncErrorAt, clock.now);
  });

  it('sessionInfoOf: directory master, remote directory slave', () => {
    assert.deepEqual(sessionInfoOf(parseUrl('/data/src'), parseUrl('ssh://gsyncd@backup1:/data')), {
      masterKind: 'file', masterVolume: '', slaveKind: 'file', slaveHost: 'backup1', slaveVolume: '', syncMethod: 'rsync',
    });
    assert.equal(sessionInfoOf(parseUrl('/data/src'), parseUrl('/data/mirror')).slaveHost, '');
    assert.equal(sessionInfoOf(parseUrl('/data/src'), parseUrl('/data/mirror'), 'tar').syncMethod, 'tar');
  });
});
