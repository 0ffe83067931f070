// What one pass works on while it runs: the tree of visited directories, the batch being
// filled, the deletes deferred to the end of the pass, and the context the engine's parts share
// (its collaborators and what the pass has learned so far).
import { joinRel, type BytePath } from '../core/bytepath.js';
import type { DeleteGuard } from '../core/delete-guard.js';
import type { EntryType, MasterEntry, SlaveEntry } from '../core/entry.js';
import type { IdMap } from '../core/id-map.js';
import type { EntryOp } from '../core/ops.js';
import { decisionCount, emptyDecisions, type Decisions } from '../core/plan.js';
import type { Xtime } from '../core/xtime.js';
import type { EngineLog } from '../log/logger.js';
import type { SlaveEndpoint } from '../protocol/endpoint.js';
import type { RsyncResult } from '../transport/rsync.js';
import type { EngineConfig, EngineEvents } from './engine-contract.js';
import type { MasterSource } from './source.js';

/** The engine's collaborators and the state its parts share (one engine, one pass at a time). */
export interface EngineContext {
  readonly master: MasterSource;
  readonly slave: SlaveEndpoint;
  readonly ids: IdMap;
  readonly cfg: EngineConfig;
  readonly log: EngineLog;
  readonly events: EngineEvents;
  /** Persist the id map; called before marks are written. */
  readonly persistIds: () => void;
  /** These ops are about to change the slave's names: the persisted id map may be wrong about them until persistIds. */
  readonly idsStale: (ops: readonly EntryOp[]) => void;
  /** Lives across passes: the pending deletes and the window are the point of it. */
  readonly guard: DeleteGuard;
  batchSeq: number;
  /** Stop at the next safe point: no new batch, no further retry; the pass stays unmarked. */
  stopRequested: boolean;
  /** The operator confirmed a mass deletion (--resume-halted): the next pass applies it all. */
  deletesConfirmed: boolean;
  /**
   * Slave entries of this pass's listings that the master lacks under that name (possible
   * rename sources), with the slave's stat: a file renamed on the master whose slave copy
   * already matches in size, mtime, mode and owner is only moved, not re-checked by rsync.
   */
  slaveExtras: Map<BytePath, SlaveEntry>;
  /** Slave paths a rename of this pass moved away (confirmed): nothing is left there to delete. */
  movedAway: Set<BytePath>;
  /** Linked files of this pass that may be split on the slave: id → master link count. */
  passLinks: Map<string, number>;
  /** Directories with deletes deferred to the end of this pass, which set their times after them. */
  deferredDirs: Set<BytePath>;
  /** Of those, directories whose attributes a batch left to that step (see flush). */
  attrsAfterDeletes: Set<BytePath>;
}

export interface Visit {
  readonly dir: BytePath;
  /** Xtime read before this directory was listed (from the parent's listing); null = unknown. */
  readonly xtime: Xtime | null;
  /** Its slave mark when the parent was listed (what was synced); null = none or not trusted. */
  readonly stime: Xtime | null;
  /** The directory's own master stat (for its attributes after its children changed). */
  entry: MasterEntry | null;
  readonly parent: Visit | null;
  /** Its slave side appears only after a pending rename is applied. */
  needsFlush: boolean;
  /**
   * New on the slave with everything below it (made by this pass's mkdirs): its slave side is
   * known to be empty, so it is not listed there.
   */
  readonly fresh: boolean;
  entries: MasterEntry[] | null;
  changed: boolean;
  failed: boolean;
  incomplete: boolean;
  /** Its batch was applied (whatever failed of it is known). */
  flushed: boolean;
  /** Its mark was written in this pass (a closed subtree is stamped as soon as it is closed). */
  marked: boolean;
}

export type Listings = [MasterEntry[] | null, SlaveEntry[] | null];

export interface Deferred {
  readonly path: BytePath;
  readonly type: EntryType;
  readonly owner: Visit;
}

export class Batch {
  decisions: Decisions = emptyDecisions();
  readonly visits: Visit[] = [];
  /** Which visit owns an op's path (its parent directory's visit). */
  readonly owner = new Map<BytePath, Visit>();
  /** Objects this batch sends by data, for hard links among new names. */
  readonly sentIds = new Map<string, BytePath>();
  /** Directories whose entries change as a side effect (rename sources). */
  readonly touchedDirs = new Set<BytePath>();
  /** Sources of this batch's renames. */
  readonly renamed = new Set<BytePath>();
  /** Other names of link groups made whole again after the data (see relinkPartners). */
  readonly relinks: { existing: BytePath; path: BytePath; id: string }[] = [];
  /** Linked files (id → master link count) sent or found split in this batch (see linkDebt). */
  readonly linkCandidates = new Map<string, number>();
  /** Names new on the slave in this batch (young for the delete guard). */
  readonly created: BytePath[] = [];
  dataBytes = 0;
  /** When the last listing of this batch was in hand (ms): the data it decided on was seen by then. */
  listedUntil = 0;
  get size(): number { return decisionCount(this.decisions); }
}

/** A path that failed, why, and the errno when one applies (ENOENT: churn). */
export type PathFailure = [path: BytePath, why: string, errno: string | undefined];

export function listBoth(ctx: EngineContext, v: Visit): Promise<Listings> {
  return Promise.all([ctx.master.list(v.dir, { fresh: v.fresh }), v.fresh ? null : ctx.slave.list(v.dir, ctx.cfg.markKey)]);
}

/**
 * The visit of directory `m` below `parent`, to be listed later. `made`: this pass makes it on
 * the slave (not renamed there), so it and everything below it are fresh.
 */
export function childVisit(parent: Visit, m: MasterEntry, needsFlush: boolean, stime: Xtime | null = null, made = false): Visit {
  return { dir: joinRel(parent.dir, m.name), xtime: m.xtime ?? null, stime, entry: m, parent, needsFlush, fresh: made || parent.fresh, entries: null, changed: false, failed: false, incomplete: false, flushed: false, marked: false };
}

/** The master entry a visit of this batch listed at `path` (its owner's listing). */
export function listedAt(batch: Batch, path: BytePath): MasterEntry | undefined {
  const owner = batch.owner.get(path);
  return owner?.entries?.find((e) => joinRel(owner.dir, e.name) === path);
}

/** A data item's sparse flag, from its master entry. */
export function sparseOf(m: MasterEntry): { sparse?: true } {
  return m.sparse ? { sparse: true } : {};
}

export function opTarget(op: EntryOp): BytePath {
  return op.op === 'rename' ? op.to : op.path;
}

export function dedupeByPath<T extends { path: BytePath }>(items: T[]): T[] {
  const byPath = new Map<BytePath, T>();
  for (const i of items) byPath.set(i.path, i);
  return [...byPath.values()];
}

/** Vanished files (24) changed on the master after listing: a later pass sees that change. */
export function rsyncSucceeded(r: RsyncResult): boolean {
  return r === 'ok' || r === 'vanished';
}
