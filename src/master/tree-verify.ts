// The verification crawl: walk a subtree comparing each directory's listing with the index of
// what the slave confirmed, and bump what differs (core/tracker-compare decides). It finds what
// no event reported: changes made while gsyncd was down, lost events, watch gaps.
import fs from 'node:fs';
import { displayPath, isWithin, joinRel, type BytePath } from '../core/bytepath.js';
import { compareListing, crawlVerdict, indexedOf } from '../core/tracker-compare.js';
import { eventDir } from '../core/tracker-events.js';
import { linkKey } from '../core/tracker-links.js';
import { absPath, listDir, type RawStat } from '../fs/tree.js';
import type { CrawlProgress } from './tree-contract.js';
import { watchKeyOfStat } from './tree-inotify.js';
import { skipFor } from './tree-persist.js';
import { bump, enqueue, errText, isGone, type DirInfo, type TrackerContext } from './tree-state.js';

export interface VerifyResult {
  readonly dirs: number;
  readonly entries: number;
  readonly changed: number;
  /** Directories found strictly below the crawl's top. */
  readonly subdirs: number;
  readonly aborted: boolean;
}

/** A full crawl; one already queued (not yet started) serves this request too. */
export function requestFullVerify(ctx: TrackerContext, reason: string): Promise<void> {
  if (ctx.stopping) return Promise.resolve();
  if (ctx.fullQueued) return ctx.fullQueued;
  const p = enqueue(ctx, async () => {
    if (ctx.fullQueued === p) ctx.fullQueued = null;
    await verifyTree(ctx, '', reason, { prune: true });
  });
  ctx.fullQueued = p;
  return p;
}

/**
 * Walk `top`'s subtree comparing each directory with the confirmed index; bump what differs.
 * An unchanged directory without an xtime gets its confirmed one back (that is the restart).
 * `prune`: forget what the crawl no longer found; `collect`: the directories it found.
 */
export async function verifyTree(ctx: TrackerContext, top: BytePath, reason: string, o: { prune?: boolean; collect?: DirInfo[] } = {}): Promise<VerifyResult> {
  const started = Date.now();
  ctx.crawls++;
  let dirs = 0;
  let entries = 0;
  let changed = 0;
  let subdirs = 0;
  let lastReport = started;
  const visited = o.prune ? new Set<BytePath>() : null;
  const seenLinks = new Set<BytePath>();
  const report = (done: boolean) => {
    const p: CrawlProgress = { reason, scope: top, dirs, entries, changedDirs: changed, done, durationMs: Date.now() - started };
    if (done) ctx.lastCrawl = p;
    try { ctx.opts.onCrawlProgress?.(p); } catch (err) { ctx.log.warn({ err: errText(err) }, 'crawl progress callback failed'); }
  };
  if (top !== '') {
    let st: fs.BigIntStats | null = null;
    try {
      st = await fs.promises.lstat(absPath(ctx.rootPath, top), { bigint: true });
    } catch { /* gone */ }
    if (!st || !st.isDirectory()) {
      bump(ctx, eventDir(top));
      report(true);
      return { dirs, entries, changed: 1, subdirs, aborted: false };
    }
    ctx.dirIno.set(top, st.ino.toString());
    o.collect?.push({ rel: top, key: watchKeyOfStat(st.dev, st.ino), ino: st.ino.toString() });
  }
  const stack: BytePath[] = [top];
  while (stack.length > 0) {
    if (ctx.stopping) {
      report(true);
      return { dirs, entries, changed, subdirs, aborted: true };
    }
    const d = stack.pop()!;
    let raw: RawStat[] | null;
    try {
      raw = await listDir(ctx.rootPath, d, skipFor(ctx, d));
    } catch (err) {
      if (!isGone(err)) {
        // Unreadable: the engine cannot list it either and reports it; keep the rest going.
        ctx.log.warn({ dir: displayPath(d), err: errText(err) }, 'verification crawl cannot list a directory');
        visited?.add(d);
        continue;
      }
      raw = null;
    }
    if (!raw) {
      if (d !== '') bump(ctx, eventDir(d)); // vanished after its parent was listed
      changed++;
      continue;
    }
    visited?.add(d);
    dirs++;
    entries += raw.length;
    const cmp = compareListing(ctx.index?.dir(d), raw.map((r) => ({ name: r.name, entry: indexedOf(r) })));
    const v = crawlVerdict(d, cmp, (x) => ctx.xt.has(x), (x) => ctx.index?.confirmedXtime(x));
    if (v.changed) changed++;
    if (v.changed || v.fresh) bump(ctx, d);
    else if (v.baseline !== null) ctx.xt.setBaseline(d, v.baseline);
    for (const child of v.bumpChildren) bump(ctx, child);
    for (let i = raw.length - 1; i >= 0; i--) {
      const r = raw[i]!;
      if (r.type !== 'dir') {
        const key = linkKey(r);
        const p = joinRel(d, r.name);
        ctx.links.note(p, key);
        if (key !== null) seenLinks.add(p);
        continue;
      }
      const child = joinRel(d, r.name);
      ctx.dirIno.set(child, r.ino.toString());
      o.collect?.push({ rel: child, key: watchKeyOfStat(r.dev, r.ino), ino: r.ino.toString() });
      subdirs++;
      stack.push(child);
    }
    if (Date.now() - lastReport >= 1000) {
      lastReport = Date.now();
      report(false);
    }
  }
  ctx.links.retainWithin(top, (p) => seenLinks.has(p));
  if (visited) {
    // Directories that no longer exist: forget their xtimes (a new one gets a fresh value).
    const dropped = ctx.xt.retain((dir) => !isWithin(dir, top) || visited.has(dir));
    for (const dir of ctx.dirIno.keys()) if (isWithin(dir, top) && !visited.has(dir)) ctx.dirIno.delete(dir);
    if (dropped > 0) ctx.log.debug({ dropped }, 'forgot xtimes of vanished directories');
  }
  report(true);
  if (changed > 0 || reason !== 'deep') {
    ctx.log.info({ reason, scope: displayPath(top), dirs, entries, changedDirs: changed, durationMs: Date.now() - started }, 'verification crawl done');
  }
  if (top === '') ctx.opts.onVerified?.(changed);
  return { dirs, entries, changed, subdirs, aborted: false };
}
