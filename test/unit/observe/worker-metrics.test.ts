// The real Worker and SyncEngine driving attachMasterMetrics over an in-memory master and slave:
// the idle rule end to end (an idle volume shows lag ≈ change-interval + settle, not a ramp).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import type { MasterEntry } from '../../../src/core/entry.js';
import type { EntryOp, OpResult } from '../../../src/core/ops.js';
import type { Xtime } from '../../../src/core/xtime.js';
import { attachMasterMetrics } from '../../../src/master/master-metrics.js';
import type { MasterSource } from '../../../src/master/source.js';
import { Worker, type WorkerConfig } from '../../../src/master/worker.js';
import { createMetrics } from '../../../src/observe/metrics.js';
import type { SlaveEndpoint } from '../../../src/protocol/endpoint.js';
import { samples, value } from './support.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gsyncd-worker-metrics-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const rootXtime: Xtime = { sec: 1_700_000_000, usec: 0 };
const rootEntry: MasterEntry = { name: '', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtimeSec: 0, mtimeNsec: 0, id: 'ino:1', nlink: 2, xtime: rootXtime };

/** An empty master directory that never changes: every pass after the first is idle. */
function idleMaster(changeWaits: number[]): MasterSource {
  return {
    kind: 'file', root: tmp, volumeId: 'vol-1',
    start: async () => {}, stop: async () => {},
    rootXtime: async () => rootXtime,
    list: async (dir) => (dir === '' ? [] : null),
    lookup: async (p) => (p === '' ? rootEntry : null),
    confirmDir: () => {}, flush: async () => {}, safetyCheck: async () => null,
    waitForChange: async (ms) => { changeWaits.push(ms); await new Promise((r) => setTimeout(r, ms)); },
  };
}

function memorySlave(): SlaveEndpoint {
  let mark: Xtime | null = null;
  return {
    description: 'memory',
    identity: async () => ({ root: '/mem', rootDev: '1', rootIno: '2' }),
    list: async (dir) => (dir === '' ? [] : null),
    readMark: async () => mark,
    apply: async (ops: EntryOp[]): Promise<OpResult[]> => ops.map((op) => {
      if (op.op === 'mark' && op.path === '') mark = op.xtime;
      return { ok: true };
    }),
    rsyncTarget: () => ({ dest: '/mem' }),
    close: async () => {},
  };
}

describe('Worker + attachMasterMetrics', () => {
  it('idle rule: repeated idle passes keep the lag at about change-interval + settle', async () => {
    const changeIntervalMs = 40;
    const xtimeSettleMs = 20;
    const sessionDir = path.join(tmp, 's1');
    fs.mkdirSync(sessionDir, { recursive: true });
    const cfg: WorkerConfig = {
      session: 'idle_test', masterText: `file://${tmp}`, slaveText: 'file:///mem', sessionDir, stateFile: path.join(sessionDir, 'state.json'),
      changeIntervalMs, xtimeSettleMs, once: false, turns: 12, maxPassRetries: 0, resumeHalted: false, checkpoint: '', slaveMarkRefreshMs: 60_000,
      engine: { rsync: { command: ['false'], extraOptions: [], remoteOptions: [] }, syncJobs: 1, syncMethod: 'rsync', tar: { command: ['tar'], xattrs: false, acls: false, sparse: false }, ignoreDeletes: false, deletes: { delayMs: 0, maxHoldMs: 0, windowMs: 600_000, maxDelete: 1000, maxDeletePercent: 25 }, maxRsyncRetries: 0, batchMaxEntries: 100, batchMaxBytes: 1 << 20, retryDelayMs: () => 0 },
    };
    const m = createMetrics('master');
    const hooks = attachMasterMetrics(m, { session: 'idle_test', brick: '0', masterKind: 'file' });
    const seen: { idle: boolean; syncedUpTo: number | undefined; at: number }[] = [];
    // Idle passes are reported in bulk, when the monitor asks (a scrape) or the worker stops.
    const idle: { passes: number; lastAt: number; syncedUpTo: number | undefined }[] = [];
    const worker = new Worker(cfg, idleMaster([]), memorySlave(), pino({ level: 'silent' }), {
      ...hooks,
      onPass: (report, syncedUpTo) => { seen.push({ idle: report.idle, syncedUpTo, at: Date.now() }); hooks.onPass(report, syncedUpTo); },
      onIdle: (passes, lastAt, syncedUpTo) => { idle.push({ passes, lastAt, syncedUpTo }); hooks.onIdle(passes, lastAt, syncedUpTo); },
    });
    const scrapes = setInterval(() => worker.reportIdle(), 15);
    try {
      assert.equal(await worker.run(), 0);
    } finally {
      clearInterval(scrapes);
    }

    assert.equal(seen.length, 1, 'one pass reported on its own');
    assert.equal(seen[0]!.idle, false, 'the first pass is the initial sync');
    const reported = idle.filter((r) => r.passes > 0);
    assert.equal(reported.reduce((n, r) => n + r.passes, 0), 11, 'then 11 idle passes, reported in bulk');
    assert.ok(reported.length >= 3, `asked often enough to see them advance: ${JSON.stringify(idle)}`);
    const synced = reported.map((r) => r.syncedUpTo!);
    for (let i = 1; i < synced.length; i++) assert.ok(synced[i]! > synced[i - 1]!, `idle report ${i} advanced synced_up_to`);
    for (const r of reported) assert.ok(r.lastAt - r.syncedUpTo! < changeIntervalMs + xtimeSettleMs + 250, `lag at the last idle pass ${r.lastAt - r.syncedUpTo!} ms`);

    const s = await samples(m.registry);
    const lag = value(s, 'gsyncd_sync_lag_seconds', { session: 'idle_test', brick: '0' });
    assert.ok(lag !== undefined && lag < (changeIntervalMs + xtimeSettleMs + 250) / 1000, `lag ${lag}`);
    assert.equal(value(s, 'gsyncd_initial_sync_completed', { session: 'idle_test', brick: '0' }), 1);
    assert.equal(value(s, 'gsyncd_batches_total', { session: 'idle_test', result: 'noop' }), 12, 'the initial pass of an empty tree and 11 idle passes');
    assert.equal(value(s, 'gsyncd_worker_state', { session: 'idle_test', brick: '0', state: 'stopped' }), 1);
  });
});
