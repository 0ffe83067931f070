// When a worker runs a verification pass (every directory compared with the slave). Pure.

/** Shortest time between verification passes asked for by hard-link groups left open. */
export const LINK_VERIFY_MIN_GAP_MS = 120_000;
/** Hard-link groups open this long are verified even while the master keeps changing. */
export const LINK_VERIFY_MAX_WAIT_MS = 15 * 60_000;

export interface VerifySchedule {
  /** Since when hard-link groups may be split on the slave; null = none known. */
  readonly linkDebtSince: number | null;
  /** Not before this (after a verification that left groups open, or was interrupted). */
  readonly nextLinkVerifyAt: number;
  /** End of the last complete verification (or the worker's start). */
  readonly lastVerifyAt: number;
  /** --verify-interval in ms; 0 = no periodic verification. */
  readonly everyMs: number;
}

export type VerifyReason = 'link-groups' | 'periodic';

/**
 * Whether the next pass verifies, and why. Open link groups wait for the master to be caught up
 * (the last pass complete): a full walk under heavy churn only slows the catch-up, unless they
 * have waited LINK_VERIFY_MAX_WAIT_MS. The periodic one runs only when caught up.
 */
export function verifyReason(s: VerifySchedule, caughtUp: boolean, now: number): VerifyReason | null {
  if (s.linkDebtSince !== null && now >= s.nextLinkVerifyAt && (caughtUp || now - s.linkDebtSince >= LINK_VERIFY_MAX_WAIT_MS)) return 'link-groups';
  if (s.everyMs > 0 && caughtUp && now - s.lastVerifyAt >= s.everyMs) return 'periodic';
  return null;
}

/**
 * When link groups may be verified again after a verification that left some open (`rounds` in
 * a row: a link count the slave cannot match backs off, up to 32×) or was interrupted (rounds 0).
 */
export function nextLinkVerifyAt(now: number, verifyMs: number, rounds: number): number {
  return now + Math.max(LINK_VERIFY_MIN_GAP_MS, 10 * verifyMs) * 2 ** Math.min(rounds, 5);
}
