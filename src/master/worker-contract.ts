// What a worker takes and whom it tells: its configuration, the hooks the monitor (or metrics)
// attach, and the exit statuses the monitor understands.
import type { SessionState } from '../session/state-file.js';
import type { EngineConfig, EngineEvents, PassReport } from './engine.js';

export interface WorkerConfig {
  readonly session: string;
  readonly masterText: string;
  readonly slaveText: string;
  /** Per-session directory for the id map and the tracker's index. */
  readonly sessionDir: string;
  readonly stateFile: string;
  readonly changeIntervalMs: number;
  readonly xtimeSettleMs: number;
  /** Stop after one complete pass (retrying failed passes up to maxPassRetries). */
  readonly once: boolean;
  /** Stop after this many passes (0 = unlimited). */
  readonly turns: number;
  readonly maxPassRetries: number;
  readonly resumeHalted: boolean;
  /** --volume-id: the master volume must have this id ('' = learn it on the first run). */
  readonly expectedVolumeId?: string;
  /** Configured checkpoint text ('' = none): now, Unix seconds or ISO-8601. */
  readonly checkpoint: string;
  /** How often the slave root mark is re-read while idle (notices an emptied or restored slave). */
  readonly slaveMarkRefreshMs: number;
  /** Period of `crawl.progress` log lines during a pass (0 = none). */
  readonly progressIntervalMs?: number;
  /** Longest time idle passes go unreported (default IDLE_REPORT_MS; 0 = each one at once). */
  readonly idleReportMs?: number;
  /** Period of verification passes, a full comparison with the slave (0 = only when needed). */
  readonly slaveVerifyIntervalMs?: number;
  readonly engine: Omit<EngineConfig, 'markKey'>;
}

export interface WorkerHooks extends Omit<EngineEvents, 'onBusy' | 'onLinkDebt'> {
  onState?(state: SessionState): void;
  /**
   * Idle passes since the last report (each a trivially complete batch), when the last one ran,
   * and synced-up-to after it. Idle passes are reported in bulk: when asked (reportIdle, a scrape
   * of the monitor), before a busy pass's report, and at least every IDLE_REPORT_MS.
   */
  onIdle?(passes: number, lastAt: number, syncedUpTo: number | undefined): void;
  /** A verification pass completed: entries it found different and fixed, when. */
  onVerify?(driftedEntries: number, completedAtMs?: number): void;
  /** The master mount came up / went away (GlusterFS masters). */
  setMountUp?(up: boolean): void;
  onPass?(report: PassReport, syncedUpTo: number | undefined): void;
}

/** Worker exit statuses the monitor understands. */
export const WorkerExit = { done: 0, failed: 1, halted: 3 } as const;
