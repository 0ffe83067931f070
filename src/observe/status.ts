// The status verdict (OBSERVABILITY §4): one word, the worst over every session and worker,
// with stable reason codes. Pure: state in, document out; /status and `gsyncd status --json`
// share this document (docs/status.md).
//
//   const doc = computeStatus({ role: 'master', version, now: Date.now(), thresholds, source: 'daemon',
//                               workers: [{ state: worker.current, live: hooks.live() }] });
//   process.exitCode = verdictExitCode[doc.verdict];
//
// First matching row wins, per worker; the document's verdict is the worst of them:
//   halted       latched safety halt · paused/stopped by the operator · monitor gave up · daemon not running   exit 2
//   degraded     faulty worker · slave disconnected > 60 s · mount_missing · skipped files or rsync errors
//                within stall-timeout · no progress for stall-timeout while work is pending                     exit 1
//   catching-up  initial sync not complete · synced_up_to unknown · lag > in-sync-lag                          exit 0
//   in-sync      everything else                                                                              exit 0
//   unknown      no daemon and no state file                                                                  exit 3
import { checkpointProgress } from '../core/checkpoint.js';
import { latchedHalts, type HaltReason } from '../core/safety.js';
import type { SessionState } from '../session/state-file.js';

export const verdicts = ['in-sync', 'catching-up', 'degraded', 'halted', 'unknown'] as const;
export type Verdict = (typeof verdicts)[number];

/** Nagios-style exit codes of `gsyncd status`. */
export const verdictExitCode: Record<Verdict, number> = { 'in-sync': 0, 'catching-up': 0, degraded: 1, halted: 2, unknown: 3 };

/** Stable reason codes, worst verdict first. */
export const reasonCodes = {
  safety_halt: 'halted',
  session_paused: 'halted',
  session_stopped: 'halted',
  monitor_gave_up: 'halted',
  daemon_not_running: 'halted',
  worker_faulty: 'degraded',
  slave_disconnected: 'degraded',
  mount_missing: 'degraded',
  files_skipped: 'degraded',
  rsync_errors: 'degraded',
  sync_errors: 'degraded',
  stalled: 'degraded',
  initial_sync_incomplete: 'catching-up',
  synced_up_to_unknown: 'catching-up',
  lag_above_threshold: 'catching-up',
  no_state: 'unknown',
} as const satisfies Record<string, Verdict>;
export type ReasonCode = keyof typeof reasonCodes;

/** A slave disconnected this long makes the session degraded. */
export const slaveDisconnectGraceMs = 60_000;

export interface StatusThresholds {
  /** in-sync-lag (s), default 60. */
  readonly inSyncLagS: number;
  /** stall-timeout (s), default 600. */
  readonly stallTimeoutS: number;
}
export const defaultThresholds: StatusThresholds = { inSyncLagS: 60, stallTimeoutS: 600 };

/** What only the running daemon knows (master-metrics.ts `hooks.live()`); absent when read from a state file. */
export interface LiveWorker {
  /** Null until the transport reported once. */
  readonly slaveConnected: boolean | null;
  readonly slaveDisconnectedSince: number | null;
  readonly pending: { readonly entry: number; readonly data: number; readonly meta: number; readonly bytes: number };
  /** Last acknowledged batch or pass (ms). */
  readonly lastBatchAt: number | null;
  /** Last scan, acknowledged batch or pass (ms); the attach time before that. */
  readonly lastProgressAt: number;
  readonly lastSkipAt: number | null;
  readonly lastRsyncErrorAt: number | null;
  readonly entriesScanned: number;
}

export interface WorkerInput {
  /** The worker's state: in memory (`worker.current`) or read from its state file. */
  readonly state: SessionState;
  /** Default: the worker's index among its session's workers. */
  readonly brick?: string;
  readonly brickPath?: string;
  readonly slaveNode?: string;
  readonly live?: LiveWorker;
  /** The monitor stopped respawning it (--max-failures). */
  readonly monitorGaveUp?: boolean;
  /** State-file path only: false when the process that wrote the state is gone. */
  readonly daemonRunning?: boolean;
}

export interface StatusInput {
  readonly role: 'master' | 'slave';
  readonly version: string;
  /** ms, master clock. */
  readonly now: number;
  readonly thresholds?: StatusThresholds;
  /** 'daemon' = live answer of /status; 'state-file' = `gsyncd status` fallback. */
  readonly source: 'daemon' | 'state-file';
  readonly workers: readonly WorkerInput[];
}

export interface StatusReason {
  readonly code: ReasonCode;
  readonly message: string;
  readonly session?: string;
  readonly brick?: string;
}

export interface CheckpointStatus {
  readonly time: string | null;
  readonly completed: boolean | null;
  readonly completed_at: string | null;
}

export interface WorkerStatus {
  readonly brick: string;
  readonly brick_path: string | null;
  /** The worker's own state, including `halted`. */
  readonly state: SessionState['workerState'];
  readonly crawl: string;
  readonly slave_node: string | null;
  readonly initial_sync_completed: boolean;
  readonly synced_up_to: string | null;
  readonly lag_seconds: number | null;
  readonly last_batch_at: string | null;
  readonly restarts: number;
  readonly last_error: { readonly message: string; readonly at: string; readonly code?: string } | null;
}

export interface SessionStatus {
  readonly session: string;
  readonly master: string;
  readonly slave: string;
  readonly state: 'started' | 'paused' | 'stopped';
  readonly initial_sync_completed: boolean;
  readonly synced_up_to: string | null;
  readonly lag_seconds: number | null;
  readonly checkpoint: CheckpointStatus;
  readonly halt: { readonly reason: HaltReason; readonly since: string; readonly detail: string } | null;
  readonly pending: { readonly entry: number; readonly data: number; readonly meta: number; readonly bytes: number } | null;
  readonly workers: readonly WorkerStatus[];
}

export interface StatusDoc {
  readonly verdict: Verdict;
  readonly reasons: readonly StatusReason[];
  readonly role: 'master' | 'slave';
  readonly version: string;
  readonly source: 'daemon' | 'state-file';
  readonly checked_at: string;
  readonly sessions: readonly SessionStatus[];
}

/** ISO-8601 to the second (floored: never claims more than is known). */
export function isoSeconds(ms: number | null | undefined): string | null {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return null;
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

const rank: Record<Verdict, number> = { 'in-sync': 0, 'catching-up': 1, degraded: 2, halted: 3, unknown: 4 };

export function computeStatus(input: StatusInput): StatusDoc {
  const th = input.thresholds ?? defaultThresholds;
  const bySession = new Map<string, WorkerInput[]>();
  for (const w of input.workers) {
    const list = bySession.get(w.state.session) ?? [];
    list.push(w);
    bySession.set(w.state.session, list);
  }
  const base = { role: input.role, version: input.version, source: input.source, checked_at: isoSeconds(input.now)! };
  if (bySession.size === 0) {
    return { verdict: 'unknown', reasons: [{ code: 'no_state', message: 'no running daemon and no session state found' }], ...base, sessions: [] };
  }
  let verdict: Verdict = 'in-sync';
  let reasons: StatusReason[] = [];
  const sessions: SessionStatus[] = [];
  for (const [session, workers] of bySession) {
    const rows = workers.map((w, i) => workerRow(w, w.brick ?? String(i), input.now, th));
    for (const { reasons: rs } of rows) {
      for (const r of rs) {
        const v = reasonCodes[r.code];
        if (rank[v] > rank[verdict]) { verdict = v; reasons = []; }
        if (v === verdict) reasons.push(r);
      }
    }
    sessions.push(sessionRow(session, workers, rows.map((r) => r.status), input.now));
  }
  return { verdict, reasons, ...base, sessions };
}

function lagMs(state: SessionState, now: number): number | null {
  if (!state.initialSyncCompleted || state.syncedUpTo === undefined) return null;
  return Math.max(0, now - state.syncedUpTo);
}

/** The reasons of the first matching verdict row for one worker (none: in-sync). */
function workerRow(w: WorkerInput, brick: string, now: number, th: StatusThresholds): { status: WorkerStatus; reasons: StatusReason[] } {
  const s = w.state;
  const lag = lagMs(s, now);
  const status: WorkerStatus = {
    brick, brick_path: w.brickPath ?? null, state: s.workerState, crawl: s.crawlState, slave_node: w.slaveNode ?? null,
    initial_sync_completed: s.initialSyncCompleted,
    synced_up_to: s.workerState === 'passive' ? null : isoSeconds(lag === null ? null : s.syncedUpTo),
    lag_seconds: s.workerState === 'passive' || lag === null ? null : Math.round(lag / 1000),
    last_batch_at: isoSeconds(w.live?.lastBatchAt ?? (s.lastPass ? Date.parse(s.lastPass.at) : null)),
    restarts: s.restarts,
    last_error: s.lastError ?? null,
  };
  const at = { session: s.session, brick };
  const who = `${s.session}/${brick}`;
  const reason = (code: ReasonCode, message: string): StatusReason => ({ code, message: `${who}: ${message}`, ...at });
  const stallMs = th.stallTimeoutS * 1000;
  const recent = (t: number | null | undefined) => t !== null && t !== undefined && now - t <= stallMs;

  const halted: StatusReason[] = [];
  if (w.daemonRunning === false) halted.push(reason('daemon_not_running', `the daemon (pid ${s.pid}) is not running`));
  if (s.halt && latchedHalts.includes(s.halt.reason)) halted.push(reason('safety_halt', `safety halt ${s.halt.reason} since ${s.halt.since}: ${s.halt.detail}`));
  if (s.workerState === 'paused') halted.push(reason('session_paused', 'paused by the operator'));
  if (s.workerState === 'stopped' && w.daemonRunning !== false) halted.push(reason('session_stopped', 'stopped'));
  if (w.monitorGaveUp) halted.push(reason('monitor_gave_up', 'the monitor gave up after --max-failures consecutive failures'));
  if (halted.length) return { status, reasons: halted };

  const degraded: StatusReason[] = [];
  if (s.workerState === 'faulty') degraded.push(reason('worker_faulty', `worker faulty${s.lastError ? `: ${s.lastError.message}` : ''}`));
  if (s.halt?.reason === 'mount_missing') degraded.push(reason('mount_missing', `the master mount is missing since ${s.halt.since}`));
  if (s.workerState !== 'passive') {
    const live = w.live;
    if (live?.slaveConnected === false && live.slaveDisconnectedSince !== null && now - live.slaveDisconnectedSince > slaveDisconnectGraceMs) {
      degraded.push(reason('slave_disconnected', `slave disconnected for ${Math.round((now - live.slaveDisconnectedSince) / 1000)} s`));
    }
    if (recent(live?.lastSkipAt)) degraded.push(reason('files_skipped', `files were skipped within stall-timeout ${th.stallTimeoutS} s (paths in the log)`));
    // An rsync failure that a later acknowledged batch or pass has made good is history.
    const rsyncErrorOpen = live?.lastRsyncErrorAt != null && !(live.lastBatchAt != null && live.lastBatchAt > live.lastRsyncErrorAt);
    if (rsyncErrorOpen && recent(live?.lastRsyncErrorAt)) degraded.push(reason('rsync_errors', `rsync failed within stall-timeout ${th.stallTimeoutS} s and nothing was acknowledged since`));
    if (s.lastError && recent(Date.parse(s.lastError.at))) degraded.push(reason('sync_errors', `last pass incomplete: ${s.lastError.message}`));
    if (live) {
      const pending = live.pending.entry + live.pending.data + live.pending.meta;
      if (pending > 0 && now - live.lastProgressAt > stallMs) {
        degraded.push(reason('stalled', `${pending} operations pending and no progress for ${Math.round((now - live.lastProgressAt) / 1000)} s`));
      }
    }
  }
  if (degraded.length) return { status, reasons: degraded };

  if (s.workerState === 'passive') return { status, reasons: [] };
  if (!s.initialSyncCompleted) return { status, reasons: [reason('initial_sync_incomplete', 'initial sync not complete')] };
  if (lag === null) return { status, reasons: [reason('synced_up_to_unknown', 'synced_up_to is not known until the first pass ends')] };
  if (lag > th.inSyncLagS * 1000) {
    return { status, reasons: [reason('lag_above_threshold', `lag ${Math.round(lag / 1000)} s > in-sync-lag ${th.inSyncLagS} s`)] };
  }
  return { status, reasons: [] };
}

function sessionRow(session: string, workers: readonly WorkerInput[], rows: WorkerStatus[], now: number): SessionStatus {
  const first = workers[0]!.state;
  const states = workers.map((w) => w.state);
  const active = states.filter((s) => s.workerState !== 'passive');
  const lags = active.map((s) => lagMs(s, now));
  const known = lags.length > 0 && lags.every((l) => l !== null);
  const lag = known ? Math.max(...(lags as number[])) : null;
  const syncedUpTo = known ? Math.min(...active.map((s) => s.syncedUpTo!)) : null;
  const cp = states.find((s) => s.checkpoint)?.checkpoint;
  const progress = active.map((s) => checkpointProgress(s.checkpoint ?? cp, s.syncedUpTo, now));
  const completedAt = states.map((s) => s.checkpoint?.completedAt).filter((t): t is number => t !== undefined);
  const halt = states.find((s) => s.halt)?.halt ?? null;
  const lives = workers.map((w) => w.live);
  const pending = lives.every((l) => l !== undefined)
    ? lives.reduce((acc, l) => ({ entry: acc.entry + l!.pending.entry, data: acc.data + l!.pending.data, meta: acc.meta + l!.pending.meta, bytes: acc.bytes + l!.pending.bytes }),
      { entry: 0, data: 0, meta: 0, bytes: 0 })
    : null;
  const state = workers.every((w) => w.daemonRunning === false) ? 'stopped' : states.every((s) => s.workerState === 'paused') ? 'paused' : states.every((s) => s.workerState === 'stopped') ? 'stopped' : 'started';
  const completed = cp ? progress.length > 0 && progress.every((p) => p.completed) : null;
  return {
    session, master: first.master, slave: first.slave, state,
    initial_sync_completed: states.every((s) => s.initialSyncCompleted),
    synced_up_to: isoSeconds(syncedUpTo), lag_seconds: lag === null ? null : Math.round(lag / 1000),
    checkpoint: {
      time: cp ? isoSeconds(cp.target) : null,
      completed,
      completed_at: completed && completedAt.length ? isoSeconds(Math.max(...completedAt)) : null,
    },
    halt: halt ? { reason: halt.reason, since: halt.since, detail: halt.detail } : null,
    pending,
    workers: rows,
  };
}
