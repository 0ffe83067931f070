// Which marks a pass may write. Pure: visited directories in, marks out.
//
// A mark on a slave directory claims: every change below it on the master with an xtime up to
// the mark is on the slave. A directory whose own work failed keeps the mark it had (its stime);
// its ancestors may still claim what is true of their whole subtree, which is capped by that
// stime. Under steady churn some directory fails in every pass; without the cap the root was
// never marked, and what is synced could not be told from what is not.
import { xtimeNewer, type Xtime } from './xtime.js';

export interface MarkCandidate {
  /** Xtime read before the directory was listed; null = unknown (never marked). */
  readonly xtime: Xtime | null;
  /** Its slave mark before this pass (null = none or not trusted). */
  readonly stime: Xtime | null;
  readonly parent: MarkCandidate | null;
  /** Something of its own listing was not applied: it keeps its old mark. */
  readonly failed: boolean;
  /** Not listed (gone since its parent's listing): no mark, and no cap on its ancestors. */
  readonly incomplete: boolean;
}

/**
 * The mark each visited directory may carry now: its xtime, lowered to the old mark of any
 * failed directory below it. A directory is left out when it failed, has no xtime, a failed
 * directory below it had no mark, or the claim would not raise its old mark.
 */
export function marksToWrite<T extends MarkCandidate>(visited: readonly T[]): Map<T, Xtime> {
  const NONE = null;
  const cap = new Map<MarkCandidate, Xtime | typeof NONE>();
  for (const v of visited) {
    if (!v.failed) continue;
    const limit = v.stime && v.stime.sec >= 0 ? v.stime : NONE;
    for (let a = v.parent; a; a = a.parent) {
      const was = cap.get(a);
      if (was === undefined) cap.set(a, limit);
      else if (was !== NONE) cap.set(a, limit === NONE || xtimeNewer(was, limit) ? limit : was);
    }
  }
  const out = new Map<T, Xtime>();
  for (const v of visited) {
    if (v.failed || v.incomplete || !v.xtime) continue;
    const c = cap.get(v);
    if (c === NONE) continue;
    const claim = c !== undefined && xtimeNewer(v.xtime, c) ? c : v.xtime;
    if (v.stime && !xtimeNewer(claim, v.stime)) continue;
    out.set(v, claim);
  }
  return out;
}
