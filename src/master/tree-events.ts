// Watcher events → bumped directories. A batch is handled at once where core/tracker-events
// says the path alone suffices; what needs the file system (names that lost bytes, whether a
// path is a new directory) is resolved afterwards, in order, off the watcher's callback.
import fs from 'node:fs';
import type watcher from '@parcel/watcher';
import { fromBytes, fromText, joinRel, parentOf, type BytePath } from '../core/bytepath.js';
import { eventDir, eventStep, mapEventPath, nameMatchesText, orderEvents, type MappedEvent } from '../core/tracker-events.js';
import { linkKey } from '../core/tracker-links.js';
import { absPath } from '../fs/tree.js';
import { requestDeep, scheduleResubscribe } from './tree-deep.js';
import { bump, errText, later, notifyChange, type TrackerContext } from './tree-state.js';
import { requestFullVerify } from './tree-verify.js';
import { fromWatchRoot, onWatcherError, watchRootOf } from './tree-watch.js';

/** The subscription's callback (`gen`: which subscription delivered it). */
export function onWatch(ctx: TrackerContext, gen: number, err: Error | null, events: watcher.Event[]): void {
  // Never throw here: an exception in this callback is fatal to the process.
  try {
    if (ctx.stopping) return;
    if (err) {
      if (gen !== ctx.subGen) ctx.log.debug({ err: errText(err) }, 'error from a replaced watcher subscription');
      else void onWatcherError(ctx, err);
      return;
    }
    const stateAbs = ctx.stateAbs;
    const watchRoot = watchRootOf(ctx, gen);
    noteBurst(ctx, events.length);
    const mapped: MappedEvent[] = [];
    for (const e of events) {
      const p = watchRoot === ctx.rootPath || !e.path.startsWith(watchRoot) ? e.path : fromWatchRoot(ctx, e.path.slice(watchRoot.length));
      if (stateAbs && (p === stateAbs || p.startsWith(stateAbs + '/'))) continue; // our own writes
      const m = mapEventPath(ctx.rootPath, e.type, p);
      if (m) mapped.push(m);
    }
    const slow: MappedEvent[] = [];
    for (const m of orderEvents(mapped)) {
      const step = eventStep(m);
      if (step.bump !== null) {
        ctx.xt.bump(step.bump);
        if (step.exact) for (const q of ctx.links.others(m.rel)) ctx.xt.bump(parentOf(q));
      }
      if (step.forget) {
        ctx.xt.delete(m.rel);
        ctx.dirIno.delete(m.rel);
        ctx.links.remove(m.rel);
      }
      if (step.resolve === 'yes' || (step.resolve === 'if-tracked' && ctx.xt.has(m.rel))) slow.push(m);
    }
    if (mapped.length > 0) notifyChange(ctx);
    if (slow.length > 0) {
      ctx.eventWork = ctx.eventWork.then(() => resolveEvents(ctx, slow)).catch((e: unknown) => {
        ctx.log.warn({ err: errText(e) }, 'cannot resolve watcher events: verifying the tree');
        void requestFullVerify(ctx, 'event-error');
      });
    }
  } catch (e) {
    ctx.log.error({ err: errText(e) }, 'watcher event handling failed');
    void onWatcherError(ctx, e);
  }
}

/** Events that need the file system: mangled names, and whether a path is a new directory. */
async function resolveEvents(ctx: TrackerContext, events: MappedEvent[]): Promise<void> {
  const cache = new Map<string, BytePath | null>();
  for (const m of events) {
    if (ctx.stopping) return;
    let rel = m.rel;
    if (m.suspectFrom >= 0) {
      const r = await resolveMangled(ctx, m, cache);
      if (r.rel === null) {
        bump(ctx, r.nearest);
        if (r.failedAt < m.textComponents.length - 1 || (m.type !== 'delete' && r.ambiguous)) requestDeep(ctx, r.nearest, 'unresolved');
        continue;
      }
      rel = r.rel;
      bump(ctx, eventDir(rel));
      for (const q of ctx.links.others(rel)) bump(ctx, parentOf(q));
      if (m.type === 'delete') {
        ctx.xt.delete(rel);
        ctx.links.remove(rel);
        continue;
      }
    }
    if (m.type === 'delete') continue;
    let st: fs.BigIntStats;
    try {
      st = await fs.promises.lstat(absPath(ctx.rootPath, rel), { bigint: true });
    } catch {
      // Gone again (its delete event bumps the parent). A new name in a directory that does
      // not exist is a stale watch: a subtree renamed or moved out keeps reporting old paths.
      if (m.type === 'create' && rel !== '' && !(await isDir(ctx, parentOf(rel)))) renewForStalePaths(ctx);
      continue;
    }
    if (!st.isDirectory()) {
      // A new name of an existing file: the others' link count (ctime) changed with it.
      const key = linkKey({ type: st.isFile() ? 'file' : 'other', nlink: Number(st.nlink), dev: st.dev, ino: st.ino });
      for (const q of ctx.links.note(rel, key)) bump(ctx, parentOf(q));
      continue;
    }
    const ino = st.ino.toString();
    const known = ctx.dirIno.get(rel);
    ctx.dirIno.set(rel, ino);
    bump(ctx, rel);
    if (m.type === 'create') ctx.recentDirCreates.set(rel, Date.now());
    // A new directory, or another one under a known name (rename over it, rm -r + mkdir).
    if (m.type === 'create' || known !== ino) requestDeep(ctx, rel, 'created');
  }
}

/**
 * Find the real byte path of an event path whose text lost bytes (U+FFFD), by matching the
 * lossy decoding of real names component by component.
 */
async function resolveMangled(ctx: TrackerContext, m: MappedEvent, cache: Map<string, BytePath | null>): Promise<{ rel: BytePath; nearest?: undefined } | { rel: null; nearest: BytePath; failedAt: number; ambiguous: boolean }> {
  const comps = m.textComponents;
  let prefix: BytePath = comps.slice(0, m.suspectFrom).map(fromText).join('/');
  for (let i = m.suspectFrom; i < comps.length; i++) {
    const text = comps[i]!;
    if (!text.includes('\uFFFD')) {
      prefix = joinRel(prefix, fromText(text));
      continue;
    }
    const key = comps.slice(0, i + 1).join('/');
    let resolved = cache.get(key);
    let ambiguous = false;
    if (resolved === undefined) {
      let names: Buffer[] | null = null;
      try {
        names = await fs.promises.readdir(absPath(ctx.rootPath, prefix), { encoding: 'buffer' });
      } catch { /* parent gone */ }
      const matches = (names ?? []).filter((b) => nameMatchesText(b, text));
      ambiguous = matches.length > 1;
      resolved = matches.length === 1 ? joinRel(prefix, fromBytes(matches[0]!)) : null;
      cache.set(key, resolved);
    }
    if (resolved === null) return { rel: null, nearest: await nearestExisting(ctx, prefix), failedAt: i, ambiguous };
    prefix = resolved;
  }
  return { rel: prefix };
}

async function isDir(ctx: TrackerContext, rel: BytePath): Promise<boolean> {
  try {
    return (await fs.promises.lstat(absPath(ctx.rootPath, rel))).isDirectory();
  } catch {
    return false;
  }
}

function renewForStalePaths(ctx: TrackerContext): void {
  if (ctx.staleRenewWanted || !ctx.sub) return;
  ctx.staleRenewWanted = true;
  ctx.log.debug({}, 'watcher reports paths that do not exist: renewing it');
  scheduleResubscribe(ctx);
}

async function nearestExisting(ctx: TrackerContext, rel: BytePath): Promise<BytePath> {
  for (let d = rel; ; d = parentOf(d)) {
    if (d === '') return '';
    try {
      if ((await fs.promises.lstat(absPath(ctx.rootPath, d))).isDirectory()) return d;
    } catch { /* keep going up */ }
  }
}

/** Many events at once: the kernel queue may have overflowed (parcel drops that notice). */
function noteBurst(ctx: TrackerContext, n: number): void {
  const b = ctx.burst.note(Date.now(), n);
  if (!b) return;
  if (b.beganWith !== null) ctx.log.info({ events: b.beganWith }, 'burst of file events: a full verification crawl follows once it is over (inotify may have dropped events)');
  if (ctx.burstTimer) clearTimeout(ctx.burstTimer);
  ctx.burstTimer = later(ctx, b.waitMs, () => {
    ctx.burstTimer = null;
    ctx.burst.end();
    void requestFullVerify(ctx, 'event-burst');
  });
}
