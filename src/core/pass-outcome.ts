// How a worker judges a finished pass: whether it failed, is merely churn (the master changed
// under it), is waiting on held deletes, and how the backoff and churn counters move. Pure:
// the pass's summary and the counters in, a verdict and new counters out; the worker logs and
// records it.

/** What of a pass report the judgement needs. */
export interface PassSummary {
  /** Complete and its root xtime known: synced-up-to advances. */
  readonly advanced: boolean;
  readonly complete: boolean;
  readonly idle: boolean;
  readonly failures: readonly string[];
  readonly churn: readonly string[];
  readonly heldDeletes: number;
}

export interface PassCounters {
  /** Passes in a row that did not complete (--once gives up past --max-pass-retries). */
  readonly failedPasses: number;
  /** Passes in a row with failures: the pause before the next one grows with it. */
  readonly backoff: number;
  /** Passes in a row left incomplete only by names that vanished, repeating one (churn). */
  readonly churnPasses: number;
  /** The churn of the last pass. */
  readonly lastChurn: ReadonlySet<string>;
}

export const freshCounters: PassCounters = { failedPasses: 0, backoff: 0, churnPasses: 0, lastChurn: new Set() };

/**
 * - 'advanced': complete, synced-up-to moves on.
 * - 'failures': something failed: backs off.
 * - 'churn-stuck': only vanished names, but the same ones pass after pass: backs off too.
 * - 'deletes-held': only deletes held by the delay: no failure, no backoff.
 * - 'churn': the master changed under the pass (a busy master): run again without backing off.
 * - 'none': neither advanced nor a busy pass (e.g. idle without a root xtime).
 */
export type PassVerdict = 'advanced' | 'failures' | 'churn-stuck' | 'deletes-held' | 'churn' | 'none';

/** Passes in a row whose churn repeats a name of the previous pass's (1 = a fresh one). */
export function repeatedChurn(previous: ReadonlySet<string>, now: readonly string[], run: number): number {
  return now.some((c) => previous.has(c)) ? run + 1 : 1;
}

/** `churnLimit`: the same name missed this many passes in a row is no longer churn. */
export function judgePass(r: PassSummary, c: PassCounters, churnLimit: number): { verdict: PassVerdict; counters: PassCounters } {
  let { failedPasses, backoff, churnPasses } = c;
  let verdict: PassVerdict = 'none';
  if (r.advanced) {
    verdict = 'advanced';
    failedPasses = 0;
  } else if (!r.idle) {
    // Deletes held by the delay are not a failure: they are applied once removals are quiet.
    if (r.heldDeletes === 0 || r.failures.length > 0) failedPasses++;
    if (r.failures.length > 0) {
      verdict = 'failures';
      backoff++;
    } else if (r.churn.length > 0 && (churnPasses = repeatedChurn(c.lastChurn, r.churn, churnPasses)) > churnLimit) {
      verdict = 'churn-stuck';
      backoff++;
    } else if (r.churn.length === 0 && r.heldDeletes > 0) {
      verdict = 'deletes-held';
      backoff = 0;
    } else {
      verdict = 'churn';
      backoff = 0;
    }
  }
  if (r.complete) backoff = 0;
  if (r.complete || r.churn.length === 0) churnPasses = 0;
  return { verdict, counters: { failedPasses, backoff, churnPasses, lastChurn: new Set(r.churn) } };
}
