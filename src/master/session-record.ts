// The session state a worker keeps and publishes: worker and crawl state, synced-up-to and
// the root's stime, the checkpoint, the last pass; written atomically to the state file (at a
// bounded rate while idle) and told to the monitor through the hooks.
import { checkpointProgress, resolveCheckpoint } from '../core/checkpoint.js';
import type { CrawlState, WorkerState } from '../core/states.js';
import { formatXtime, type Xtime } from '../core/xtime.js';
import type { Logger } from '../log/logger.js';
import { readState, writeState, type SessionState } from '../session/state-file.js';
import type { PassReport } from './engine.js';
import type { WorkerConfig, WorkerHooks } from './worker-contract.js';

/** How often an idle worker rewrites (and fsyncs) its state file. */
const IDLE_STATE_WRITE_MS = 15_000;

export class SessionRecord {
  readonly state: SessionState;
  private lastStateWrite = 0;

  constructor(private readonly cfg: WorkerConfig, private readonly log: Logger, private readonly hooks: WorkerHooks) {
    const prev = readState(cfg.stateFile);
    this.state = {
      version: 1, session: cfg.session, master: cfg.masterText, slave: cfg.slaveText,
      workerState: 'initializing', crawlState: 'initial', pid: process.pid, updatedAt: '',
      initialSyncCompleted: prev?.initialSyncCompleted ?? false, restarts: prev?.restarts ?? 0,
      ...(prev?.syncedUpTo !== undefined ? { syncedUpTo: prev.syncedUpTo } : {}),
      ...(prev?.rootStime ? { rootStime: prev.rootStime } : {}),
      ...(prev?.halt ? { halt: prev.halt } : {}),
      ...(prev?.slaveIdentity ? { slaveIdentity: prev.slaveIdentity } : {}),
      ...(prev?.masterVolumeId ? { masterVolumeId: prev.masterVolumeId } : {}),
    };
    const checkpoint = resolveCheckpoint(cfg.checkpoint, prev?.checkpoint, Date.now());
    if (checkpoint) this.state.checkpoint = checkpoint;
  }

  /** synced_up_to := max(old, T0 − settle): every change before T0 was on the master when the pass read the root xtime. */
  advance(t0: number, report: PassReport): void {
    const candidate = t0 - this.cfg.xtimeSettleMs;
    const first = !this.state.initialSyncCompleted;
    this.state.syncedUpTo = Math.max(this.state.syncedUpTo ?? 0, candidate);
    this.state.initialSyncCompleted = true;
    this.state.rootStime = formatXtime(report.rootXtime!);
    delete this.state.lastError;
    if (first) this.log.info({ syncedUpTo: new Date(this.state.syncedUpTo).toISOString() }, 'initial sync complete');
    if (this.noteCheckpoint()) this.persist(0);
    // Idle passes only move synced-up-to: persist that at a bounded rate (the monitor hears of
    // them over IPC, see reportIdle; the file is for a restart and `gsyncd status` without it).
    this.persist(report.idle ? IDLE_STATE_WRITE_MS : 0);
  }

  /** synced_up_to := max(old, min(the root mark's time, T0) − settle), after an incomplete pass. */
  advancePartly(t0: number, rootMark: Xtime): void {
    const markMs = rootMark.sec * 1000 + Math.floor(rootMark.usec / 1000);
    this.state.syncedUpTo = Math.max(this.state.syncedUpTo ?? 0, Math.min(markMs, t0) - this.cfg.xtimeSettleMs);
    this.state.rootStime = formatXtime(rootMark);
    this.noteCheckpoint(); // persisted with the pass record
  }

  /** Whether synced-up-to just reached the checkpoint (logged once). */
  noteCheckpoint(): boolean {
    const cp = checkpointProgress(this.state.checkpoint, this.state.syncedUpTo, Date.now());
    if (cp.checkpoint) this.state.checkpoint = cp.checkpoint;
    if (cp.justCompleted) this.log.info({ event: 'checkpoint.completed', checkpoint: new Date(cp.checkpoint!.target).toISOString() }, 'checkpoint completed: everything written before it is on the slave');
    return cp.justCompleted;
  }

  recordPass(r: PassReport): void {
    this.state.lastPass = { at: new Date().toISOString(), dirsVisited: r.dirsVisited, entryOps: r.entryOps, dataFiles: r.dataFiles, bytesSent: r.bytesSent, failures: r.failures.length };
    this.log.info(this.state.lastPass, r.complete ? 'pass complete' : 'pass incomplete');
    this.persist(0);
  }

  setState(s: WorkerState, force = false): void {
    if (this.state.workerState === s && !force) return;
    this.state.workerState = s;
    this.state.pid = process.pid;
    this.persist(0);
  }

  setCrawl(c: CrawlState): void {
    if (this.state.crawlState === c) return;
    this.state.crawlState = c;
    this.hooks.onState?.(this.state);
  }

  persist(minIntervalMs: number): void {
    const now = Date.now();
    if (minIntervalMs > 0 && now - this.lastStateWrite < minIntervalMs) return;
    this.lastStateWrite = now;
    writeState(this.cfg.stateFile, this.state);
    this.hooks.onState?.(this.state);
  }
}
