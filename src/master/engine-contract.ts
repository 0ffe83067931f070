// What the sync engine takes and what it reports: its configuration, log and event hooks, and
// the summaries of a batch and a pass. The worker, metrics and tests depend on these, not on how
// a pass is run.
import type { DeleteGuardConfig, Trip } from '../core/delete-guard.js';
import type { EntryOp, OpResult } from '../core/ops.js';
import type { HaltReason } from '../core/safety.js';
import type { Xtime } from '../core/xtime.js';
import type { SyncMethod } from '../core/sync-method.js';
import type { RsyncConfig, RsyncRun } from '../transport/rsync.js';
import type { TarConfig } from '../transport/tar.js';

export interface EngineConfig {
  readonly markKey: string;
  readonly rsync: RsyncConfig;
  readonly syncJobs: number;
  /** Which files go by tar streams instead of rsync runs (core/sync-method.ts). */
  readonly syncMethod: SyncMethod;
  readonly tar: TarConfig;
  readonly ignoreDeletes: boolean;
  /** The mass-deletion guard and the delete delay (core/delete-guard.ts). */
  readonly deletes: DeleteGuardConfig;
  readonly maxRsyncRetries: number;
  readonly batchMaxEntries: number;
  readonly batchMaxBytes: number;
  /** Delay before rsync retry `attempt` (1-based). */
  readonly retryDelayMs: (attempt: number) => number;
}

export interface EngineEvents {
  /** The pass has work (the root's xtime is past its mark): not an idle poll. */
  onBusy?(): void;
  onScanned?(entries: number): void;
  onBatch?(summary: BatchSummary): void;
  onRsync?(run: RsyncRun): void;
  onEntryOps?(ops: EntryOp[], results: OpResult[]): void;
  /**
   * A batch sent a name of a linked file whose other names are not all known to be on the slave
   * as links of it (the group may be split there until a verification pass). Called before the
   * batch's directories are marked, so the caller can record it durably.
   */
  onLinkDebt?(): void;
}

export interface PassOptions {
  /**
   * Visit every directory, whatever its mark says: a full comparison with the slave that finds
   * what change detection cannot (hard-link groups split on the slave, a slave changed behind
   * our back). Not idle even when the root's mark is current.
   */
  readonly verify?: boolean;
}

export interface BatchSummary {
  readonly entryOps: number;
  readonly dataFiles: number;
  readonly dataBytes: number;
  readonly bytesSent: number;
  readonly failures: number;
  readonly durationMs: number;
}

export interface PassReport {
  /** Nothing newer than the root's mark: no work was needed. */
  readonly idle: boolean;
  /** The root was stamped with its xtime: everything up to `rootXtime` is on the slave. */
  readonly complete: boolean;
  readonly rootXtime: Xtime | null;
  /**
   * The mark the root got in this pass: `rootXtime` when complete, lower when something below
   * failed (everything up to it is on the slave); null = not marked in this pass.
   */
  readonly rootMark: Xtime | null;
  readonly halted: HaltReason | null;
  readonly dirsVisited: number;
  readonly scanned: number;
  readonly entryOps: number;
  readonly dataFiles: number;
  readonly bytesSent: number;
  readonly failures: string[];
  /**
   * What could not be applied because the master changed under the pass (a name or directory
   * gone by the time its op or transfer ran: ENOENT). Left unmarked like failures, but redone by
   * the next pass without backing off: under steady churn every pass has some.
   */
  readonly churn: string[];
  /**
   * Hard-link groups this pass found, or left, not known to be whole on the slave (a name sent
   * as a copy while other names of the file are unknown): a verification pass joins them.
   */
  readonly linkDebt: number;
  /** Deletes held back (delete delay, or the guard): their directories stay unmarked. */
  readonly heldDeletes: number;
  /** The deletes this pass would apply crossed a limit: none was applied (a mass_delete halt). */
  readonly massDelete: Trip | null;
}
