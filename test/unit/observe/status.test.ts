import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeStatus, isoSeconds, verdictExitCode, type LiveWorker, type StatusDoc, type Verdict, type WorkerInput } from '../../../src/observe/status.js';
import type { SessionState } from '../../../src/session/state-file.js';
import { sessionState } from './support.js';

const now = Date.parse('2026-11-25T14:09:03Z');
const thresholds = { inSyncLagS: 60, stallTimeoutS: 600 };
const synced = (lagS: number) => now - lagS * 1000;

function live(over: Partial<LiveWorker> = {}): LiveWorker {
  return { slaveConnected: true, slaveDisconnectedSince: null, pending: { entry: 0, data: 0, meta: 0, bytes: 0 }, lastBatchAt: now - 1000, lastProgressAt: now - 1000, lastSkipAt: null, lastRsyncErrorAt: null, entriesScanned: 0, ...over };
}

function status(workers: WorkerInput[], source: 'daemon' | 'state-file' = 'daemon'): StatusDoc {
  return computeStatus({ role: 'master', version: '0.3.0', now, thresholds, source, workers });
}

const w = (state: Partial<SessionState>, extra: Partial<WorkerInput> = {}): WorkerInput => ({ state: sessionState({ syncedUpTo: synced(5), ...state }), live: live(), ...extra });

// One row per rule of the verdict table (§4), in table order.
const table: Array<[string, WorkerInput[], Verdict, string[]]> = [
  ['latched safety halt', [w({ workerState: 'halted', halt: { reason: 'root_emptied', since: '2026-11-25T13:00:00Z', detail: 'emptied' } })], 'halted', ['safety_halt']],
  ['slave root changed', [w({ halt: { reason: 'slave_root_changed', since: 'x', detail: 'y' } })], 'halted', ['safety_halt']],
  ['paused by the operator', [w({ workerState: 'paused' })], 'halted', ['session_paused']],
  ['stopped by the operator', [w({ workerState: 'stopped' })], 'halted', ['session_stopped']],
  ['monitor gave up', [w({ workerState: 'faulty' }, { monitorGaveUp: true })], 'halted', ['monitor_gave_up']],
  ['daemon not running (state file)', [w({ workerState: 'active' }, { live: undefined, daemonRunning: false })], 'halted', ['daemon_not_running']],
  ['halt beats degraded and lag', [w({ workerState: 'paused', syncedUpTo: synced(9999) }), w({ session: 'other', workerState: 'faulty' })], 'halted', ['session_paused']],
  ['faulty worker', [w({ workerState: 'faulty', lastError: { message: 'rsync exit 12', at: new Date(now - 3_600_000).toISOString() } })], 'degraded', ['worker_faulty']],
  ['slave disconnected 61 s', [w({}, { live: live({ slaveConnected: false, slaveDisconnectedSince: now - 61_000 }) })], 'degraded', ['slave_disconnected']],
  ['mount missing (self-clearing halt)', [w({ workerState: 'halted', halt: { reason: 'mount_missing', since: 'x', detail: 'y' } })], 'degraded', ['mount_missing']],
  ['skipped files within stall-timeout', [w({}, { live: live({ lastSkipAt: now - 599_000 }) })], 'degraded', ['files_skipped']],
  ['rsync errors within stall-timeout, nothing acknowledged since', [w({}, { live: live({ lastRsyncErrorAt: now - 10_000, lastBatchAt: now - 20_000 }) })], 'degraded', ['rsync_errors']],
  ['rsync errors made good by a later acknowledged batch', [w({}, { live: live({ lastRsyncErrorAt: now - 10_000, lastBatchAt: now - 5_000 }) })], 'in-sync', []],
  ['incomplete pass within stall-timeout', [w({ lastError: { message: 'a: EACCES', at: new Date(now - 60_000).toISOString() } })], 'degraded', ['sync_errors']],
  ['stalled: pending work, no progress', [w({}, { live: live({ pending: { entry: 3, data: 0, meta: 0, bytes: 0 }, lastProgressAt: now - 601_000 }) })], 'degraded', ['stalled']],
  ['degraded beats catching-up', [w({ initialSyncCompleted: false, syncedUpTo: undefined }), w({ workerState: 'faulty' }, { brick: '1' })], 'degraded', ['worker_faulty']],
  ['initial sync not complete', [w({ initialSyncCompleted: false, syncedUpTo: undefined, crawlState: 'initial' })], 'catching-up', ['initial_sync_incomplete']],
  ['synced_up_to lost, first pass running', [w({ syncedUpTo: undefined })], 'catching-up', ['synced_up_to_unknown']],
  ['lag above in-sync-lag', [w({ syncedUpTo: synced(412) })], 'catching-up', ['lag_above_threshold']],
  ['in sync', [w({ syncedUpTo: synced(59) })], 'in-sync', []],
  ['in sync at exactly in-sync-lag', [w({ syncedUpTo: synced(60) })], 'in-sync', []],
  ['no sessions', [], 'unknown', ['no_state']],
];

describe('computeStatus: verdict table', () => {
  for (const [name, workers, verdict, codes] of table) {
    it(`${name} → ${verdict} (exit ${verdictExitCode[verdict]})`, () => {
      const doc = status(workers);
      assert.equal(doc.verdict, verdict);
      assert.deepEqual(doc.reasons.map((r) => r.code), codes);
    });
  }

  it('exit codes: in-sync/catching-up 0, degraded 1, halted 2, unknown 3', () => {
    assert.deepEqual(verdictExitCode, { 'in-sync': 0, 'catching-up': 0, degraded: 1, halted: 2, unknown: 3 });
  });

  it('below the thresholds nothing is degraded', () => {
    const doc = status([w({}, { live: live({ slaveConnected: false, slaveDisconnectedSince: now - 59_000, lastSkipAt: now - 601_000, lastRsyncErrorAt: now - 700_000, pending: { entry: 1, data: 0, meta: 0, bytes: 0 }, lastProgressAt: now - 599_000 }) })]);
    assert.equal(doc.verdict, 'in-sync');
  });

  it('passive workers count only for halted and degraded', () => {
    assert.equal(status([w({ workerState: 'passive', initialSyncCompleted: false, syncedUpTo: undefined }), w({}, { brick: '1' })]).verdict, 'in-sync');
  });

  it('reasons name session and brick; the message carries the numbers', () => {
    const doc = status([w({ syncedUpTo: synced(412) })]);
    assert.deepEqual(doc.reasons, [{ code: 'lag_above_threshold', message: 'gv0_backup1_gv0b/0: lag 412 s > in-sync-lag 60 s', session: 'gv0_backup1_gv0b', brick: '0' }]);
  });

  it('custom thresholds', () => {
    const doc = computeStatus({ role: 'master', version: 'x', now, thresholds: { inSyncLagS: 500, stallTimeoutS: 5 }, source: 'daemon', workers: [w({ syncedUpTo: synced(412) }, { live: live({ lastRsyncErrorAt: now - 10_000 }) })] });
    assert.equal(doc.verdict, 'in-sync');
  });
});

describe('computeStatus: document', () => {
  it('matches the §4 example shape', () => {
    const doc = status([w({ syncedUpTo: Date.parse('2026-11-25T14:02:11.900Z'), restarts: 0 }, {
      brickPath: 'srv1:/bricks/b0', slaveNode: 'backup1',
      live: live({ lastBatchAt: Date.parse('2026-11-25T14:08:50Z'), pending: { entry: 120, data: 33, meta: 0, bytes: 73_400_320 } }),
    })]);
    assert.deepEqual(doc, {
      verdict: 'catching-up',
      reasons: [{ code: 'lag_above_threshold', message: 'gv0_backup1_gv0b/0: lag 411 s > in-sync-lag 60 s', session: 'gv0_backup1_gv0b', brick: '0' }],
      role: 'master', version: '0.3.0', source: 'daemon', checked_at: '2026-11-25T14:09:03Z',
      sessions: [{
        session: 'gv0_backup1_gv0b', master: 'gluster://localhost:gv0', slave: 'ssh://gsyncd@backup1:/data', state: 'started',
        initial_sync_completed: true, synced_up_to: '2026-11-25T14:02:11Z', lag_seconds: 411,
        checkpoint: { time: null, completed: null, completed_at: null }, halt: null,
        pending: { entry: 120, data: 33, meta: 0, bytes: 73_400_320 },
        workers: [{
          brick: '0', brick_path: 'srv1:/bricks/b0', state: 'active', crawl: 'xtime', slave_node: 'backup1', initial_sync_completed: true,
          synced_up_to: '2026-11-25T14:02:11Z', lag_seconds: 411, last_batch_at: '2026-11-25T14:08:50Z', restarts: 0, last_error: null,
        }],
      }],
    });
  });

  it('session: min synced_up_to and max lag over active workers; null while any lacks one', () => {
    let doc = status([w({ syncedUpTo: synced(10) }), w({ syncedUpTo: synced(30) }), w({ workerState: 'passive', syncedUpTo: synced(999) })]);
    assert.equal(doc.sessions[0]!.lag_seconds, 30);
    assert.equal(doc.sessions[0]!.synced_up_to, isoSeconds(synced(30)));
    assert.deepEqual(doc.sessions[0]!.workers.map((x) => x.brick), ['0', '1', '2']);
    assert.equal(doc.sessions[0]!.workers[2]!.lag_seconds, null, 'passive: no lag');
    doc = status([w({ syncedUpTo: synced(10) }), w({ initialSyncCompleted: false, syncedUpTo: undefined })]);
    assert.equal(doc.sessions[0]!.lag_seconds, null);
    assert.equal(doc.sessions[0]!.synced_up_to, null);
    assert.equal(doc.sessions[0]!.initial_sync_completed, false);
  });

  it('checkpoint pending, then completed with its time', () => {
    const target = synced(100);
    let doc = status([w({ syncedUpTo: synced(200), checkpoint: { target } })]);
    assert.deepEqual(doc.sessions[0]!.checkpoint, { time: isoSeconds(target), completed: false, completed_at: null });
    doc = status([w({ syncedUpTo: synced(5), checkpoint: { target, completedAt: now - 2000 } })]);
    assert.deepEqual(doc.sessions[0]!.checkpoint, { time: isoSeconds(target), completed: true, completed_at: isoSeconds(now - 2000) });
  });

  it('groups workers by session; halt and state per session', () => {
    const doc = status([
      w({ session: 'a', workerState: 'paused' }),
      w({ session: 'b', halt: { reason: 'root_emptied', since: 's', detail: 'd' }, workerState: 'halted' }),
    ]);
    assert.deepEqual(doc.sessions.map((s) => [s.session, s.state, s.halt?.reason ?? null]), [['a', 'paused', null], ['b', 'started', 'root_emptied']]);
    assert.deepEqual(doc.reasons.map((r) => [r.code, r.session]), [['session_paused', 'a'], ['safety_halt', 'b']]);
  });

  it('state-file source: no pending, last batch from the last pass, stopped when the writer is gone', () => {
    const doc = status([{ state: sessionState({ syncedUpTo: synced(5), lastPass: { at: '2026-11-25T14:00:00.123Z', dirsVisited: 1, entryOps: 1, dataFiles: 0, bytesSent: 0, failures: 0 } }), daemonRunning: false }], 'state-file');
    assert.equal(doc.source, 'state-file');
    assert.equal(doc.sessions[0]!.pending, null);
    assert.equal(doc.sessions[0]!.state, 'stopped');
    assert.equal(doc.sessions[0]!.workers[0]!.last_batch_at, '2026-11-25T14:00:00Z');
  });

  it('is plain JSON (round-trips unchanged)', () => {
    const doc = status([w({ syncedUpTo: synced(412) })]);
    assert.deepEqual(JSON.parse(JSON.stringify(doc)), doc);
  });
});
