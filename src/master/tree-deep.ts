// Deep checks of new directories and the watcher's coverage: verify a new subtree (what happened
// in it before its watch existed), check in /proc/self/fdinfo that its directories are watched,
// and renew the subscription when they may not be (core/tracker-watch decides when).
import fs from 'node:fs';
import { displayPath, type BytePath } from '../core/bytepath.js';
import { outermost } from '../core/tracker-events.js';
import { coverageVerdict, needsFreshWatch, type DeepReason } from '../core/tracker-watch.js';
import { absPath } from '../fs/tree.js';
import { inotifyWatchedKeys } from './tree-inotify.js';
import { enqueue, later, type DirInfo, type TrackerContext } from './tree-state.js';
import { verifyTree } from './tree-verify.js';
import { subscribe } from './tree-watch.js';

/** Parcel delivers the rest of a burst 50 ms after its first event: wait for it. */
const DEEP_DELAY_MS = 100;
/** How long a directory's create event vouches for its watch (its path is right). */
const RECENT_CREATE_MS = 5000;

export function requestDeep(ctx: TrackerContext, rel: BytePath, why: DeepReason): void {
  if (ctx.stopping) return;
  if (ctx.deepPending.get(rel) !== 'created') ctx.deepPending.set(rel, why);
  if (ctx.deepTimer) return;
  ctx.deepTimer = later(ctx, DEEP_DELAY_MS, () => {
    ctx.deepTimer = null;
    void enqueue(ctx, () => runDeep(ctx));
  });
}

/**
 * Verify the subtrees of new directories (what happened in them before their watch existed),
 * then make sure every directory in them is watched under its real path.
 */
async function runDeep(ctx: TrackerContext): Promise<void> {
  const pending = new Map(ctx.deepPending);
  ctx.deepPending.clear();
  if (pending.size === 0) return;
  let renew = false;
  const now = Date.now();
  for (const [p, at] of ctx.recentDirCreates) if (at < now - RECENT_CREATE_MS) ctx.recentDirCreates.delete(p);
  const tops = outermost(pending.keys());
  for (const top of tops) {
    const collected: DirInfo[] = [];
    const r = await verifyTree(ctx, top, 'deep', { collect: collected });
    if (r.aborted) return;
    if (needsFreshWatch(top, pending, collected.map((d) => d.rel), (d) => ctx.recentDirCreates.has(d))) {
      renew = true;
      ctx.resubPending.add(top);
    } else {
      for (const d of collected) ctx.coveragePending.set(d.key, d);
    }
  }
  if (renew) scheduleResubscribe(ctx);
  if (ctx.coveragePending.size > 0) scheduleCoverage(ctx);
}

function scheduleCoverage(ctx: TrackerContext): void {
  if (ctx.coverageTimer || !ctx.sub) return;
  const wait = Math.max(0, ctx.lastCoverageAt + Math.max(200, 20 * ctx.lastCoverageMs) - Date.now());
  ctx.coverageTimer = later(ctx, wait, () => {
    ctx.coverageTimer = null;
    void enqueue(ctx, () => checkCoverage(ctx));
  });
}

/** New directories that inotify does not watch (watch limit): renew, or fall back to crawls. */
async function checkCoverage(ctx: TrackerContext): Promise<void> {
  const pending = [...ctx.coveragePending.values()];
  ctx.coveragePending.clear();
  if (pending.length === 0 || !ctx.sub) return;
  const started = Date.now();
  const watched = await inotifyWatchedKeys();
  ctx.lastCoverageAt = Date.now();
  ctx.lastCoverageMs = ctx.lastCoverageAt - started;
  if (!watched) return; // not observable here: the periodic crawl is the backstop
  if (ctx.coverageUsable === null && ctx.sub) {
    ctx.coverageUsable = watched.has(ctx.rootKey);
    if (!ctx.coverageUsable) ctx.log.info({}, 'inotify watches cannot be matched with directories on this file system: relying on verification crawls for watch gaps');
  }
  if (!ctx.coverageUsable) return;
  const missing: DirInfo[] = [];
  for (const d of pending) {
    if (watched.has(d.key) || ctx.uncheckableKeys.has(d.key)) continue;
    try {
      const st = await fs.promises.lstat(absPath(ctx.rootPath, d.rel), { bigint: true });
      if (st.isDirectory() && st.ino.toString() === d.ino) missing.push(d);
    } catch { /* gone: nothing to watch */ }
  }
  if (missing.length === 0) return;
  const v = coverageVerdict(missing, ctx.renewedKeys);
  for (const d of v.giveUp) ctx.uncheckableKeys.add(d.key);
  if (v.giveUp.length > 0) ctx.log.info({ dirs: v.giveUp.length, example: displayPath(v.giveUp[0]!.rel) }, 'directories still look unwatched after renewing the watcher: not checking them again (verification crawls cover them)');
  if (v.renew.length === 0) return;
  for (const d of v.renew) ctx.renewedKeys.add(d.key);
  ctx.log.warn({ dirs: v.renew.length, example: displayPath(v.renew[0]!.rel) }, 'new directories are not watched (inotify watch limit?): renewing the watcher');
  for (const m of v.tops) ctx.resubPending.add(m);
  scheduleResubscribe(ctx);
}

export function scheduleResubscribe(ctx: TrackerContext): void {
  if (ctx.resubTimer) return;
  const wait = Math.max(0, ctx.lastResubAt + Math.max(1000, 10 * ctx.lastResubMs) - Date.now());
  ctx.resubTimer = later(ctx, wait, () => {
    ctx.resubTimer = null;
    void enqueue(ctx, () => resubscribeAndVerify(ctx));
  });
}

async function resubscribeAndVerify(ctx: TrackerContext): Promise<void> {
  const tops = outermost(ctx.resubPending);
  ctx.resubPending.clear();
  const stale = ctx.staleRenewWanted;
  ctx.staleRenewWanted = false;
  if (tops.length === 0 && !stale) return;
  const started = Date.now();
  const { ok, gap } = await subscribe(ctx, 'coverage');
  ctx.lastResubAt = Date.now();
  ctx.lastResubMs = ctx.lastResubAt - started;
  if (!ok || gap) {
    await verifyTree(ctx, '', 'watch-gap', { prune: true });
    return;
  }
  // Everything is watched under its real path now; what changed before is found by the crawl.
  for (const top of tops) {
    const collected: DirInfo[] = [];
    await verifyTree(ctx, top, 'deep', { collect: collected });
    for (const d of collected) ctx.coveragePending.set(d.key, d);
  }
  if (ctx.coveragePending.size > 0) scheduleCoverage(ctx);
}
