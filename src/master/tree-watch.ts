// The @parcel/watcher subscription: making it, renewing it without losing events, and the
// degraded mode (periodic full crawls) while it cannot be made. Its events go to ctx.onWatch.
import fs from 'node:fs';
import path from 'node:path';
import watcher from '@parcel/watcher';
import { enqueue, errText, type TrackerContext } from './tree-state.js';
import { requestFullVerify } from './tree-verify.js';

/** An ignore path no real path can be under (a component longer than NAME_MAX): gives each subscription its own watcher. */
const GENERATION_COMPONENT = `.gsyncd-watch-generation-${'x'.repeat(260)}-`;

/**
 * (Re)subscribe. @parcel/watcher keeps one directory tree per root path string and a new
 * subscription on the same string reuses it, stale as it may be (renamed or moved-in
 * subdirectories). Renewals therefore alternate between two spellings of the root (its path
 * and /proc/self/root + path): the new subscription crawls afresh, and the old one is dropped
 * only once the new one is complete, so no event is lost. Without the alternate spelling the
 * old subscription must go first: `gap` tells the caller to verify the whole tree.
 */
export async function subscribe(ctx: TrackerContext, reason: string): Promise<{ ok: boolean; gap: boolean }> {
  if (!ctx.watchEnabled || ctx.stopping) return { ok: false, gap: false };
  const gen = ++ctx.watchGen;
  let gap = false;
  if (ctx.sub && ctx.altRoot === null) {
    const old = ctx.sub;
    ctx.sub = null;
    gap = true;
    await old.unsubscribe().catch((err: unknown) => ctx.log.debug({ err: errText(err) }, 'old watcher subscription already gone'));
  }
  const watchRoot = watchRootOf(ctx, gen);
  const ignore = [path.join(watchRoot, `${GENERATION_COMPONENT}${gen}`)];
  if (ctx.stateAbs) ignore.push(watchRoot + ctx.stateAbs.slice(ctx.rootPath.length));
  const started = Date.now();
  try {
    const sub = await watcher.subscribe(watchRoot, (err, events) => ctx.onWatch(gen, err, events), {
      ignore,
      ...(process.platform === 'linux' ? { backend: 'inotify' as const } : {}),
    });
    if (ctx.stopping) {
      await sub.unsubscribe().catch(() => {});
      return { ok: false, gap };
    }
    const old = ctx.sub;
    ctx.sub = sub;
    ctx.subGen = gen;
    if (old) await old.unsubscribe().catch((err: unknown) => ctx.log.debug({ err: errText(err) }, 'old watcher subscription already gone'));
    if (reason !== 'start') ctx.resubscriptions++;
    if (ctx.degraded) ctx.log.info({}, 'file watcher re-established');
    ctx.degraded = false;
    if (ctx.degradedTimer) {
      clearInterval(ctx.degradedTimer);
      ctx.degradedTimer = null;
    }
    ctx.log.debug({ reason, watchRoot, ms: Date.now() - started }, 'watching the master tree');
    return { ok: true, gap };
  } catch (err) {
    enterDegraded(ctx, err);
    return { ok: false, gap: true };
  }
}

/**
 * The watcher failed (error callback, queue overflow, watch limit): events may have been lost.
 * Renew the subscription, then verify the whole tree.
 */
export async function onWatcherError(ctx: TrackerContext, err: unknown): Promise<void> {
  if (ctx.stopping) return;
  ctx.log.warn({ err: errText(err) }, 'file watcher failed: events may be lost; re-subscribing and running a full verification crawl');
  await enqueue(ctx, () => subscribe(ctx, 'watcher-error'));
  await requestFullVerify(ctx, 'watcher-error');
}

/** `rest` ('' or '/...') below the alternate spelling, as a path below the real root. */
export function fromWatchRoot(ctx: TrackerContext, rest: string): string {
  if (rest === '') return ctx.rootPath;
  return ctx.rootPath === '/' ? rest : ctx.rootPath + rest;
}

/** The spelling of the root subscription `gen` watches (see subscribe). */
export function watchRootOf(ctx: TrackerContext, gen: number): string {
  return ctx.altRoot !== null && gen % 2 === 0 ? ctx.altRoot : ctx.rootPath;
}

/** /proc/self/root + the root, when it is the same directory (not on other platforms). */
export async function findAltRoot(rootPath: string, rootSt: fs.BigIntStats): Promise<string | null> {
  if (process.platform !== 'linux') return null;
  const alt = rootPath === '/' ? '/proc/self/root' : `/proc/self/root${rootPath}`;
  try {
    const st = await fs.promises.stat(alt, { bigint: true });
    return st.dev === rootSt.dev && st.ino === rootSt.ino ? alt : null;
  } catch {
    return null;
  }
}

function enterDegraded(ctx: TrackerContext, err: unknown): void {
  const every = ctx.opts.degradedVerifyIntervalSec ?? 30;
  ctx.log.warn({ err: errText(err), fullCrawlEverySec: every }, 'cannot watch the master tree (inotify watch limit? raise fs.inotify.max_user_watches): changes are found by periodic verification crawls until watching works again');
  ctx.degraded = true;
  if (!ctx.degradedTimer && every > 0 && !ctx.stopping) {
    ctx.degradedTimer = setInterval(() => {
      void (async () => {
        await enqueue(ctx, () => subscribe(ctx, 'retry'));
        await requestFullVerify(ctx, 'degraded');
      })();
    }, every * 1000);
    ctx.degradedTimer.unref();
  }
}
