// Master worker → metrics: turns Worker/SyncEngine events into the §3.3 series of one worker
// (session, brick), and keeps the few live facts `gsyncd status` needs (status.ts LiveWorker).
//
//   const m = createMetrics('master', { version, log });
//   const hooks = attachMasterMetrics(m, { session, brick: '0', ...sessionInfoOf(masterUrl, slaveUrl) });
//   new Worker(cfg, source, slave, log, hooks);     // WorkerHooks: onState, onPass, engine events
//   hooks.setSlaveConnected(true); hooks.onSshConnect('ok'); hooks.setMountUp(true); …   // from the transport/mount/monitor
//   computeStatus({ …, workers: [{ state: worker.current, live: hooks.live() }] });
//
// The lag is not set here: setSyncedUpTo hands synced_up_to to the registry and the lag gauge
// computes max(0, now − synced_up_to) at scrape time (§2 rule 4). It is removed while the worker
// is passive or before its initial sync (rule 5).
import type { OpResult, EntryOp } from '../core/ops.js';
import type { BatchSummary, PassReport } from './engine.js';
import type { SessionState } from '../session/state-file.js';
import type { WorkerHooks } from './worker.js';
import type { RsyncRun } from '../transport/rsync.js';
import type { ResourceUrl } from '../url/url.js';
import { checkpointProgress } from '../core/checkpoint.js';
import {
  assertBrick, assertSession, batchPhases, crawlStateLabel, crawlStates, entryOpLabel, haltReasons, opTypes,
  workerStateLabel, workerStateLabels, type BatchPhase, type OpType, type ResourceKind, type SkipReason, type SshResult, type SyncMethod,
} from '../observe/labels.js';
import { setStateSet, type MasterMetrics } from '../observe/metrics.js';
import type { LiveWorker } from '../observe/status.js';

/** Info-metric labels; hosts and volumes appear nowhere else. */
export interface SessionInfo {
  readonly masterKind: ResourceKind;
  /** '' for a directory master. */
  readonly masterVolume: string;
  readonly slaveKind: ResourceKind;
  /** '' for a local directory slave. */
  readonly slaveHost: string;
  readonly slaveVolume: string;
  readonly syncMethod?: SyncMethod;
}

export interface MasterMetricsTarget extends Partial<SessionInfo> {
  readonly session: string;
  /** Worker index in volume-info order: "0"…"N-1"; "0" for a directory master. */
  readonly brick: string;
  /** gsyncd_worker_info labels (default ''). */
  readonly brickHost?: string;
  readonly slaveNode?: string;
  /** Clock (ms); tests pass a fake. */
  readonly now?: () => number;
}

export type PendingWork = Partial<Record<OpType, number>> & { readonly bytes?: number };

/** The hooks a Worker takes, plus the events that come from the monitor, transport and mount. */
export interface MasterMetricsHooks extends Required<WorkerHooks> {
  /** ssh2 connection up and RPC handshake done (a local slave: up once opened). */
  setSlaveConnected(up: boolean): void;
  onSshConnect(result: SshResult): void;
  /** Aux-gfid mount present and readable (gluster masters only). */
  setMountUp(up: boolean): void;
  /** Files given up on (their paths go to the log, never here). */
  onSkipped(reason: SkipReason, files?: number): void;
  /** Work queued and not yet acknowledged; omitted keys are left as they are. */
  setPending(p: PendingWork): void;
  onVerify(driftedEntries: number, completedAtMs?: number): void;
  /** Live facts for status.ts. */
  live(): LiveWorker;
  /** The worker is gone for good: drop its per-brick lag and synced_up_to series. */
  detach(): void;
}

/** Info labels of a session from its URLs. */
export function sessionInfoOf(master: ResourceUrl, slave: ResourceUrl, syncMethod: SyncMethod = 'rsync'): SessionInfo {
  const inner = slave.kind === 'ssh' ? slave.inner : slave;
  return {
    masterKind: master.kind === 'gluster' ? 'gluster' : 'file',
    masterVolume: master.kind === 'gluster' ? master.volume : '',
    slaveKind: inner.kind === 'gluster' ? 'gluster' : 'file',
    slaveHost: slave.kind === 'ssh' ? slave.host : inner.kind === 'gluster' ? inner.host : '',
    slaveVolume: inner.kind === 'gluster' ? inner.volume : '',
    syncMethod,
  };
}

export function attachMasterMetrics(m: MasterMetrics, target: MasterMetricsTarget): MasterMetricsHooks {
  const session = assertSession(target.session);
  const brick = assertBrick(target.brick);
  const now = target.now ?? Date.now;
  const S = { session };
  const SB = { session, brick };
  m.initSession(session, brick);
  m.sessionInfo.set({
    session, master_kind: target.masterKind ?? 'file', master_volume: target.masterVolume ?? '', slave_kind: target.slaveKind ?? 'file',
    slave_host: target.slaveHost ?? '', slave_volume: target.slaveVolume ?? '', sync_method: target.syncMethod ?? 'rsync',
  }, 1);
  m.workerInfo.set({ ...SB, brick_host: target.brickHost ?? '', slave_node: target.slaveNode ?? '' }, 1);
  if (target.masterKind === 'gluster') m.masterMountUp.set(S, 0);

  const since = now();
  const live = {
    slaveConnected: null as boolean | null,
    slaveDisconnectedSince: null as number | null,
    pending: { entry: 0, data: 0, meta: 0, bytes: 0 },
    lastBatchAt: null as number | null,
    lastProgressAt: since,
    lastSkipAt: null as number | null,
    lastRsyncErrorAt: null as number | null,
    entriesScanned: 0,
  };
  let last: { passive: boolean; initialDone: boolean; syncedUpTo?: number; checkpoint?: SessionState['checkpoint'] } = { passive: false, initialDone: false };
  let restartsSeen: number | null = null;
  let crawl: string | null = null;
  const phases = new PhaseClock(now);

  const publishSyncedUpTo = () => {
    const show = last.initialDone && !last.passive ? last.syncedUpTo : undefined;
    m.setSyncedUpTo(session, brick, show);
  };
  const publishCheckpoint = () => {
    const p = checkpointProgress(last.checkpoint, last.syncedUpTo, now());
    if (!p.checkpoint) {
      m.checkpointTimestamp.set(S, 0);
      m.checkpointCompleted.remove(S);
      m.checkpointCompletion.remove(S);
      return;
    }
    m.checkpointTimestamp.set(S, p.checkpoint.target / 1000);
    m.checkpointCompleted.set(S, p.completed ? 1 : 0);
    // Only the worker records the completion time; until it is persisted there is no series.
    if (last.checkpoint?.completedAt !== undefined) m.checkpointCompletion.set(S, last.checkpoint.completedAt / 1000);
    else m.checkpointCompletion.remove(S);
  };
  const acknowledged = (t = now()) => {
    live.lastBatchAt = t;
    live.lastProgressAt = t;
    m.lastSuccessfulBatch.set(SB, t / 1000);
  };

  const hooks: MasterMetricsHooks = {
    onState(state: SessionState): void {
      setStateSet(m.workerState, SB, workerStateLabels, workerStateLabel(state.workerState));
      const c = crawlStateLabel(state.crawlState);
      setStateSet(m.crawlState, SB, crawlStates, c);
      if (c !== null && c !== 'idle' && c !== crawl) phases.restart(); // a pass begins: start-up or the wait was no phase
      crawl = c;
      m.initialSyncCompleted.set(SB, state.initialSyncCompleted ? 1 : 0);
      for (const reason of haltReasons) m.safetyHalted.set({ session, reason }, state.halt?.reason === reason ? 1 : 0);
      if (restartsSeen !== null && state.restarts > restartsSeen) m.workerRestarts.inc(SB, state.restarts - restartsSeen);
      restartsSeen = Math.max(restartsSeen ?? 0, state.restarts);
      last = { passive: state.workerState === 'passive', initialDone: state.initialSyncCompleted, syncedUpTo: state.syncedUpTo, checkpoint: state.checkpoint };
      publishSyncedUpTo();
      publishCheckpoint();
    },

    onPass(report: PassReport, syncedUpTo: number | undefined): void {
      if (report.complete) {
        if (report.idle) m.batches.inc({ session, result: 'noop' }); // rule 2: an idle pass is a trivially complete batch
        acknowledged();
        last = { ...last, initialDone: true };
      }
      if (syncedUpTo !== undefined) last = { ...last, syncedUpTo };
      publishSyncedUpTo();
      publishCheckpoint();
      phases.flush((phase, s) => m.batchDuration.observe({ session, phase }, s));
      phases.restart();
    },

    onIdle(passes: number, lastAt: number, syncedUpTo: number | undefined): void {
      if (passes > 0) {
        m.batches.inc({ session, result: 'noop' }, passes); // rule 2, as onPass for one idle pass
        acknowledged(lastAt);
        last = { ...last, initialDone: true };
      }
      if (syncedUpTo !== undefined) last = { ...last, syncedUpTo };
      publishSyncedUpTo();
      publishCheckpoint();
    },

    onScanned(entries: number): void {
      phases.mark('crawl');
      live.entriesScanned += entries;
      live.lastProgressAt = now();
      m.crawlEntries.inc(SB, entries);
    },

    onEntryOps(ops: EntryOp[], results: OpResult[]): void {
      phases.mark(entryPhase(ops));
      ops.forEach((op, i) => {
        const label = entryOpLabel(op);
        if (label === null) return;
        m.operations.inc({ session, op: label, result: results[i]?.ok ? 'success' : 'error' });
      });
    },

    onRsync(run: RsyncRun & { readonly files?: number }): void {
      phases.mark('data');
      m.rsyncRuns.inc({ session, result: run.result });
      m.transferredBytes.inc(S, run.bytesSent);
      const good = run.result === 'ok' || run.result === 'vanished';
      if (run.filesTransferred > 0) m.operations.inc({ session, op: 'data', result: 'success' }, run.filesTransferred);
      // With the job's file count, the rest were unchanged (noop) or, for a failed run, not confirmed.
      const rest = run.files !== undefined ? Math.max(0, run.files - run.filesTransferred) : 0;
      if (rest > 0) m.operations.inc({ session, op: 'data', result: good ? 'noop' : 'error' }, rest);
      if (good) live.lastProgressAt = now();
      else live.lastRsyncErrorAt = now();
    },

    onBatch(summary: BatchSummary & { readonly phasesMs?: Partial<Record<BatchPhase, number>> }): void {
      const result = summary.failures > 0 ? 'error' : summary.entryOps + summary.dataFiles === 0 ? 'noop' : 'success';
      m.batches.inc({ session, result });
      if (result !== 'error') {
        acknowledged();
        m.syncedFileBytes.inc(S, summary.dataBytes);
      }
      const observe = (phase: BatchPhase, s: number) => m.batchDuration.observe({ session, phase }, s);
      if (summary.phasesMs) {
        phases.restart();
        for (const phase of batchPhases) {
          const ms = summary.phasesMs[phase];
          if (ms !== undefined) observe(phase, ms / 1000);
        }
      } else {
        phases.flush(observe);
      }
    },

    setSlaveConnected(up: boolean): void {
      if (!up && live.slaveConnected !== false) live.slaveDisconnectedSince = now();
      if (up) live.slaveDisconnectedSince = null;
      live.slaveConnected = up;
      m.slaveConnected.set(S, up ? 1 : 0);
    },

    onSshConnect(result: SshResult): void {
      m.sshConnects.inc({ session, result });
    },

    setMountUp(up: boolean): void {
      m.masterMountUp.set(S, up ? 1 : 0);
    },

    onSkipped(reason: SkipReason, files = 1): void {
      if (files <= 0) return;
      m.skippedFiles.inc({ session, reason }, files);
      live.lastSkipAt = now();
    },

    setPending(p: PendingWork): void {
      for (const type of opTypes) {
        const n = p[type];
        if (n === undefined) continue;
        live.pending[type] = n;
        m.pendingOperations.set({ ...SB, type }, n);
      }
      if (p.bytes !== undefined) {
        live.pending.bytes = p.bytes;
        m.pendingBytes.set(SB, p.bytes);
      }
    },

    onVerify(driftedEntries: number, completedAtMs = now()): void {
      m.verifyDrifted.set(S, driftedEntries);
      m.verifyLastCompleted.set(S, completedAtMs / 1000);
    },

    live(): LiveWorker {
      return { ...live, pending: { ...live.pending } };
    },

    detach(): void {
      m.setSyncedUpTo(session, brick, undefined);
    },
  };
  return hooks;
}

/** Entry ops that only stamp marks are the stime phase; only attributes, meta; the rest, entry. */
function entryPhase(ops: EntryOp[]): BatchPhase {
  if (ops.length > 0 && ops.every((o) => o.op === 'mark')) return 'stime';
  if (ops.length > 0 && ops.every((o) => o.op === 'setattr')) return 'meta';
  return 'entry';
}

/**
 * Batch phase durations from event gaps: the time since the previous event is charged to the
 * phase of the event that ends it (a listing ends crawl time, an rsync run data time, …), so the
 * phases of a batch add up to its wall time even with parallel rsync runs.
 */
class PhaseClock {
  private lastAt: number;
  private spent = new Map<BatchPhase, number>();

  constructor(private readonly now: () => number) {
    this.lastAt = now();
  }

  mark(phase: BatchPhase): void {
    const t = this.now();
    this.spent.set(phase, (this.spent.get(phase) ?? 0) + Math.max(0, t - this.lastAt));
    this.lastAt = t;
  }

  /** Report each phase that occurred since the last flush (seconds), then start afresh. */
  flush(observe: (phase: BatchPhase, seconds: number) => void): void {
    for (const [phase, ms] of this.spent) observe(phase, ms / 1000);
    this.spent.clear();
  }

  restart(): void {
    this.spent.clear();
    this.lastAt = this.now();
  }
}
