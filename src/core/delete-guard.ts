// The mass-deletion guard: which of the deletes a pass decided on may be applied now. Pure:
// the engine tells it what the master lacks (and how much of the slave each name holds), it
// answers what to apply, what to hold and whether to halt.
//
// Two defences, because an `rm -rf` of the master's top level runs for seconds to minutes and is
// seen pass by pass, one subtree at a time:
// - Deletes are held. A removed name is applied only once removals have been quiet for
//   `delayMs` (nothing newly removed), or it has waited `maxHoldMs`. While a tree is being
//   emptied the pending set only grows, so the root is seen empty (root_emptied) or the set
//   crosses a limit before any of it is deleted.
// - Limits over a sliding window: what is pending plus what was applied within `windowMs`,
//   whole subtrees counted. Over `maxDelete` entries, or over `maxDeletePercent` of the slave's
//   established entries (held longer than the window; a job that creates files and removes them
//   again is not a loss of established data), nothing more is deleted: a `mass_delete` halt.
import type { BytePath } from './bytepath.js';

export interface DeleteGuardConfig {
  /** Removals must have been quiet this long before pending deletes are applied (0 = at once). */
  readonly delayMs: number;
  /** A pending delete is applied after this long even while removals go on (steady churn). */
  readonly maxHoldMs: number;
  /** Sliding window over which applied deletes count against the limits. */
  readonly windowMs: number;
  /** Entries (files + directories, subtrees counted) per window; 0 = no limit. */
  readonly maxDelete: number;
  /** Percent of the slave's established entries per window; 0 = no limit. */
  readonly maxDeletePercent: number;
}

/** Below this many established entries the percent limit does not apply (tiny trees). */
export const PERCENT_FLOOR = 20;

/** Young names remembered at most (memory stays flat under a flood of creates); the oldest are
 *  forgotten first, which only makes them count as established: stricter, never looser. */
export const MAX_YOUNG = 100_000;

export interface Candidate {
  readonly path: BytePath;
  readonly type: string;
}

export interface SubtreeCount {
  /** Entries on the slave at and below the name (1 for a file). */
  readonly total: number;
  /** Of those, entries the slave has held longer than the window. */
  readonly established: number;
}

interface Pending extends SubtreeCount {
  readonly since: number;
}

export interface Trip {
  readonly count: number;
  readonly limit: number;
  readonly which: 'max-delete' | 'max-delete-percent';
  readonly sample: BytePath[];
}

export interface Decision {
  readonly apply: BytePath[];
  readonly hold: BytePath[];
  readonly trip: Trip | null;
}

export class DeleteGuard {
  private readonly pending = new Map<BytePath, Pending>();
  private applied: { at: number; total: number; established: number }[] = [];
  private lastJoin = 0;
  /** Names this session created on the slave, and when: young until windowMs has passed. */
  private readonly created = new Map<BytePath, number>();

  constructor(private readonly cfg: DeleteGuardConfig) {}

  get enabled(): boolean {
    return this.cfg.maxDelete > 0 || this.cfg.maxDeletePercent > 0;
  }

  /** Names the session just created on the slave (new names, not updates). */
  noteCreated(paths: Iterable<BytePath>, now: number): void {
    for (const p of paths) {
      this.created.delete(p); // re-inserted: insertion order stays oldest first
      this.created.set(p, now);
    }
    for (const p of this.created.keys()) {
      if (this.created.size <= MAX_YOUNG) break;
      this.created.delete(p);
    }
  }

  /** The slave has held this name for less than the window (created by this session since). */
  isYoung(path: BytePath, now: number): boolean {
    const at = this.created.get(path);
    return at !== undefined && now - at < this.cfg.windowMs;
  }

  /**
   * This pass's candidates replace the pending set: a name no longer missing on the master came
   * back (or was not seen this pass) and starts over when it is missing again. Returns the names
   * that are new, whose subtree sizes the caller counts (setCount) before decide().
   */
  reconcile(candidates: readonly Candidate[], now: number): Candidate[] {
    const seen = new Set<BytePath>();
    const fresh: Candidate[] = [];
    for (const c of candidates) {
      seen.add(c.path);
      if (!this.pending.has(c.path)) {
        fresh.push(c);
        this.pending.set(c.path, { since: now, total: 1, established: this.isYoung(c.path, now) ? 0 : 1 });
        this.lastJoin = now;
      }
    }
    for (const p of [...this.pending.keys()]) if (!seen.has(p)) this.pending.delete(p);
    return fresh;
  }

  /**
   * How far a subtree needs counting: one entry past --max-delete crosses it on its own (and past
   * anything the percent limit could still allow). Without a count limit, one past the percent's.
   */
  countBudget(slaveEntries: number): number {
    if (this.cfg.maxDelete > 0) return this.cfg.maxDelete + 1;
    const appliedTotal = this.applied.reduce((n, x) => n + x.total, 0);
    return Math.max(Math.floor(((slaveEntries + appliedTotal) * this.cfg.maxDeletePercent) / 100), PERCENT_FLOOR) + 1;
  }

  setCount(path: BytePath, count: SubtreeCount): void {
    const p = this.pending.get(path);
    if (p) this.pending.set(path, { ...p, ...count });
  }

  /**
   * What to do with the pending set. `slaveEntries` is what the slave holds for this session now
   * (the id map's size); `confirmed` = the operator confirmed the deletion (--resume-halted).
   */
  decide(now: number, slaveEntries: number, confirmed: boolean): Decision {
    this.prune(now);
    const all = [...this.pending.keys()];
    if (confirmed) return { apply: all, hold: [], trip: null };
    const trip = this.limitCrossed(slaveEntries);
    if (trip) return { apply: [], hold: all, trip };
    const quiet = now - this.lastJoin >= this.cfg.delayMs;
    const apply: BytePath[] = [];
    const hold: BytePath[] = [];
    for (const [path, p] of this.pending) (quiet || now - p.since >= this.cfg.maxHoldMs ? apply : hold).push(path);
    return { apply, hold, trip: null };
  }

  /** These deletes were confirmed by the slave: they count against the window. */
  recordApplied(paths: readonly BytePath[], now: number): void {
    for (const path of paths) {
      const p = this.pending.get(path);
      if (!p) continue;
      this.pending.delete(path);
      this.applied.push({ at: now, total: p.total, established: p.established });
    }
  }

  private limitCrossed(slaveEntries: number): Trip | null {
    let total = 0;
    let established = 0;
    let appliedTotal = 0;
    for (const x of this.pending.values()) { total += x.total; established += x.established; }
    for (const x of this.applied) { total += x.total; established += x.established; appliedTotal += x.total; }
    const sample = [...this.pending.entries()].sort((a, b) => b[1].total - a[1].total).slice(0, 5).map(([p]) => p);
    const { maxDelete, maxDeletePercent } = this.cfg;
    if (maxDelete > 0 && total > maxDelete) return { count: total, limit: maxDelete, which: 'max-delete', sample };
    if (maxDeletePercent > 0 && established >= PERCENT_FLOOR) {
      // The tree as it stood before the window: what the slave holds plus what the window deleted.
      const before = slaveEntries + appliedTotal;
      const limit = Math.floor((before * maxDeletePercent) / 100);
      if (established > limit) return { count: established, limit, which: 'max-delete-percent', sample };
    }
    return null;
  }

  private prune(now: number): void {
    this.applied = this.applied.filter((x) => now - x.at < this.cfg.windowMs);
    for (const [p, at] of this.created) { // oldest first: stop at the first young one
      if (now - at < this.cfg.windowMs) break;
      this.created.delete(p);
    }
  }
}
