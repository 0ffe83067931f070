// Whether the watcher can be trusted for new directories, after their subtree was verified: the
// rules behind renewing the @parcel/watcher subscription. Pure: the tracker gathers what
// /proc/self/fdinfo and the crawls say and acts on the verdicts.
import { isWithin, type BytePath } from './bytepath.js';
import { outermost } from './tracker-events.js';

/** Why a subtree is deep-checked: a new or replaced directory, or a path that could not be resolved. */
export type DeepReason = 'created' | 'unresolved';

/**
 * After a deep check of `top`, with the directories it found (`found`, top included): only a
 * fresh subscription is sure to be right when a new directory has a subdirectory that parcel
 * never reported as created. It was moved in with it (never watched), renamed with it (watched
 * under a stale path) or raced its parent's watch (mkdir -p).
 */
export function needsFreshWatch(top: BytePath, pending: ReadonlyMap<BytePath, DeepReason>, found: readonly BytePath[], recentlyCreated: (dir: BytePath) => boolean): boolean {
  const created = [...pending].some(([p, why]) => why === 'created' && isWithin(p, top));
  return created && found.some((d) => d !== top && !recentlyCreated(d));
}

/**
 * Directories that inotify does not watch (watch limit?), split by whether a renewal was already
 * made for them: those are given up on (the periodic crawl covers them), the others get one
 * renewal for their outermost directories (`tops`).
 */
export function coverageVerdict<T extends { readonly key: string; readonly rel: BytePath }>(missing: readonly T[], renewed: ReadonlySet<string>): { giveUp: T[]; renew: T[]; tops: BytePath[] } {
  const giveUp = missing.filter((d) => renewed.has(d.key));
  const renew = missing.filter((d) => !renewed.has(d.key));
  return { giveUp, renew, tops: outermost(renew.map((d) => d.rel)) };
}
