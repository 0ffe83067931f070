// A plain directory as a sync master. It has no GlusterFS marker, so the tracker synthesizes one:
// every directory gets an xtime (µs, strictly increasing clock) that moves, with all its
// ancestors, whenever the tracker learns that something inside it changed. The engine then works
// exactly as on a GlusterFS volume: an idle poll is one in-memory read of the root's xtime.
//
// Where changes are learnt from:
//  - inotify, through @parcel/watcher: each event bumps the parent directory of its path (and a
//    directory path itself when it is a new or replaced directory);
//  - a persistent index (stateDir/index.journal): per entry the last state the slave CONFIRMED
//    (ino, size, mtime, ctime, mode, owner, type) and per directory the xtime the engine stamped
//    it with. At start a verification crawl compares every directory with it, so changes made
//    while gsyncd was down are found; unchanged directories get their confirmed xtime back, so a
//    restart of an in-sync tree costs one crawl and no pass;
//  - the same verification crawl every verifyIntervalSec, and at once after a watcher error.
//
// Gaps of @parcel/watcher this file closes (verified against its 2.x sources):
//  - it watches a directory only when it processes its IN_CREATE, and never crawls into it: a
//    tree moved in from outside, `mkdir -p` racing it, or a renamed directory (whose descendants
//    keep reporting their old paths) leave subdirectories unwatched or mis-named. A new or
//    replaced directory is therefore deep-checked (its subtree is verified against the index);
//    if it has subdirectories the subscription is renewed (make-before-break: a new
//    subscription is complete before the old one goes) and the subtree verified again. Parcel
//    caches its directory tree per root path string, so renewals alternate between the root's
//    path and /proc/self/root + path to get a fresh crawl (see subscribe());
//  - it ignores a failed inotify_add_watch for a new directory (watch limit) without any error:
//    new directories are looked up in /proc/self/fdinfo; one that is not watched makes the
//    tracker renew the subscription, and if that fails it falls back to periodic full crawls;
//  - it drops IN_Q_OVERFLOW silently: a burst of events large enough to overflow the kernel
//    queue (burstVerifyEvents within a second) schedules a full verification crawl once the
//    burst is over. A single file rewritten in a tight loop coalesces to one event and is not
//    caught by this heuristic; the periodic crawl remains the backstop for that.
//  - non-UTF-8 names reach JS as U+FFFD: such a path is resolved against the real names of its
//    parent (readdir, compared by their lossy decoding); what cannot be resolved bumps the
//    nearest existing ancestor and deep-checks it.
//
// Root identity: the root's dev/ino is recorded at first start (stateDir/root-identity.json).
// When the root is later another directory (replaced, remounted, a symlink now pointing
// elsewhere), safetyCheck() answers 'root_type_changed' and nothing is mirrored. A user who really
// replaced the directory on purpose accepts the new one with resetRootIdentity() (or by deleting
// that file while gsyncd is stopped); the index then sees new inodes everywhere and resyncs.
//
// The parts: tree-contract (options, status), tree-state (the context they share), tree-persist
// (the tracker's own files), tree-verify (the crawl), tree-watch (the subscription), tree-events
// (events → bumps) and tree-deep (new subtrees and watch coverage). This file is the
// MasterSource the engine talks to, and the lifecycle.
import fs from 'node:fs';
import path from 'node:path';
import { baseName, joinRel, type BytePath } from '../core/bytepath.js';
import type { MasterEntry } from '../core/entry.js';
import { gsyncdError } from '../core/errors.js';
import type { HaltReason } from '../core/safety.js';
import { indexedOf, indexedOfMaster, trackerId } from '../core/tracker-compare.js';
import { linkKey } from '../core/tracker-links.js';
import { xtimeFromUs } from '../core/tracker-xtime.js';
import type { Xtime } from '../core/xtime.js';
import { listDir, lstatEntry, type RawStat } from '../fs/tree.js';
import type { MasterSource } from './source.js';
import type { TrackerStatus, TreeTrackerOptions } from './tree-contract.js';
import { requestDeep } from './tree-deep.js';
import { onWatch } from './tree-events.js';
import { watchKeyOfStat } from './tree-inotify.js';
import { closeIndex, flushIndex, locateStateDir, openState, openStateDir, resetRootIdentity, rootSafety, skipFor } from './tree-persist.js';
import { createContext, enqueue, errText, isGone, type TrackerContext, type Waiter } from './tree-state.js';
import { requestFullVerify, verifyTree } from './tree-verify.js';
import { findAltRoot, onWatcherError, subscribe } from './tree-watch.js';

export type { CrawlProgress, TrackerStatus, TreeTrackerOptions } from './tree-contract.js';
export { trackerId } from '../core/tracker-compare.js';

function toMasterEntry(st: RawStat, xtime?: Xtime): MasterEntry {
  const e: MasterEntry = {
    name: st.name, type: st.type, mode: st.mode, uid: st.uid, gid: st.gid, size: st.size,
    mtimeSec: st.mtimeSec, mtimeNsec: st.mtimeNsec, id: trackerId(st.ino, st.type), nlink: st.nlink, ctimeNs: st.ctimeNs,
    ...(st.target !== undefined ? { target: st.target } : {}),
    ...(st.sparse ? { sparse: st.sparse } : {}),
    ...(xtime ? { xtime } : {}),
  };
  return e;
}

export class TreeTracker implements MasterSource {
  readonly kind = 'file' as const;
  readonly volumeId: string;
  private readonly ctx: TrackerContext;
  /**
   * xtime handed out for a directory before it was listed (what the engine stamps the slave
   * with), and the raw listing list() returned (ctime and inode are not in MasterEntry), for
   * confirmDir. Two generations: rootXtime() starts a pass and drops the one before the last in
   * O(1), so neither map outgrows one pass.
   */
  private handed = new Map<BytePath, number>();
  private handedPrev = new Map<BytePath, number>();
  private listings = new Map<BytePath, RawStat[]>();
  private listingsPrev = new Map<BytePath, RawStat[]>();
  private started = false;
  private periodicTimer: NodeJS.Timeout | null = null;

  constructor(opts: TreeTrackerOptions) {
    if (!path.isAbsolute(opts.root)) throw gsyncdError('GSYNCD_ERR_USAGE', `tree tracker root must be absolute: ${opts.root}`);
    const ctx: TrackerContext = createContext(opts, (gen, err, events) => onWatch(ctx, gen, err, events));
    this.ctx = ctx;
    this.volumeId = openStateDir(ctx.stateDir, ctx.log);
  }

  /** The master directory (its real path once started). */
  get root(): string {
    return this.ctx.rootPath;
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    const ctx = this.ctx;
    if (this.started) throw gsyncdError('GSYNCD_ERR_INTERNAL', 'tree tracker started twice');
    this.started = true;
    let st: fs.BigIntStats;
    try {
      st = await fs.promises.stat(ctx.rootPath, { bigint: true });
    } catch (err) {
      throw gsyncdError('GSYNCD_ERR_MOUNT', `master directory ${ctx.rootPath} is not reachable: ${errText(err)}`, err);
    }
    if (!st.isDirectory()) throw gsyncdError('GSYNCD_ERR_MOUNT', `master ${ctx.rootPath} is not a directory`);
    ctx.rootPath = await fs.promises.realpath(ctx.rootPath);
    ctx.rootKey = watchKeyOfStat(st.dev, st.ino);
    ctx.altRoot = await findAltRoot(ctx.rootPath, st);
    locateStateDir(ctx);
    openState(ctx, st);
    if (ctx.watchEnabled) await subscribe(ctx, 'start');
    // Subscribed first: a change during the crawl is either seen by it or reported by an event.
    await enqueue(ctx, () => verifyTree(ctx, '', 'start', { prune: true }));
    const every = ctx.opts.verifyIntervalSec;
    if (every > 0) {
      this.periodicTimer = setInterval(() => void requestFullVerify(ctx, 'periodic'), every * 1000);
      this.periodicTimer.unref();
    }
    ctx.log.info({ root: ctx.rootPath, volumeId: this.volumeId, dirs: ctx.xt.size, watching: ctx.sub !== null }, 'tree tracker started');
  }

  async stop(): Promise<void> {
    const ctx = this.ctx;
    if (ctx.stopping) return;
    ctx.stopping = true;
    for (const t of ctx.timers) clearTimeout(t);
    ctx.timers.clear();
    for (const t of [this.periodicTimer, ctx.degradedTimer, ctx.deepTimer, ctx.coverageTimer, ctx.resubTimer, ctx.burstTimer]) if (t) clearTimeout(t);
    for (const w of [...ctx.waiters]) w.done();
    const sub = ctx.sub;
    ctx.sub = null;
    if (sub) await sub.unsubscribe().catch((err: unknown) => ctx.log.warn({ err: errText(err) }, 'watcher unsubscribe failed'));
    await ctx.chain.catch(() => {});
    await ctx.eventWork.catch(() => {});
    closeIndex(ctx);
  }

  // ---------------------------------------------------------------- MasterSource

  async rootXtime(): Promise<Xtime | null> {
    // O(1), no file system access: an idle poll costs nothing.
    this.handedPrev = this.handed;
    this.handed = new Map();
    this.listingsPrev = this.listings;
    this.listings = new Map();
    const us = this.ctx.xt.get('') ?? this.ctx.xt.bump('');
    this.handed.set('', us);
    return xtimeFromUs(us);
  }

  async list(dir: BytePath): Promise<MasterEntry[] | null> {
    const ctx = this.ctx;
    let raw: RawStat[] | null;
    try {
      raw = await listDir(ctx.rootPath, dir, skipFor(ctx, dir));
    } catch (err) {
      if (isGone(err)) return null; // replaced while being listed: its parent's xtime moved
      throw err;
    }
    if (!raw) return null;
    this.listings.set(dir, raw);
    return raw.map((st) => {
      if (st.type !== 'dir') {
        ctx.links.note(joinRel(dir, st.name), linkKey(st));
        return toMasterEntry(st);
      }
      const child = joinRel(dir, st.name);
      const ino = st.ino.toString();
      const known = ctx.dirIno.get(child);
      if (known !== undefined && known !== ino) {
        // Another directory under a known name and no event said so: never reuse the old value.
        ctx.xt.delete(child);
        requestDeep(ctx, child, 'created');
      }
      ctx.dirIno.set(child, ino);
      const us = ctx.xt.adopt(child);
      this.handed.set(child, us);
      return toMasterEntry(st, xtimeFromUs(us));
    });
  }

  async lookup(p: BytePath): Promise<MasterEntry | null> {
    let st: RawStat | null;
    try {
      st = await lstatEntry(this.ctx.rootPath, p, baseName(p));
    } catch (err) {
      if (isGone(err)) return null; // e.g. an old path whose parent is a file now
      throw err;
    }
    if (!st) return null;
    if (st.type !== 'dir' && p !== '') this.ctx.links.note(p, linkKey(st));
    const us = st.type === 'dir' ? this.ctx.xt.get(p) : undefined;
    return toMasterEntry(st, us === undefined ? undefined : xtimeFromUs(us));
  }

  confirmDir(dir: BytePath, entries: MasterEntry[]): void {
    const index = this.ctx.index;
    if (!index) return;
    const listed = this.listings.get(dir) ?? this.listingsPrev.get(dir);
    this.listings.delete(dir);
    this.listingsPrev.delete(dir);
    const rawByName = new Map<BytePath, RawStat>();
    for (const r of listed ?? []) rawByName.set(r.name, r);
    const recs = entries.map((e) => {
      const r = rawByName.get(e.name);
      return { name: e.name, rec: r && trackerId(r.ino, r.type) === e.id ? indexedOf(r) : indexedOfMaster(e) };
    });
    // The value handed out before the listing: what the engine stamps the slave with.
    index.confirm(dir, recs, this.handed.get(dir) ?? this.handedPrev.get(dir) ?? this.ctx.xt.adopt(dir));
  }

  async flush(): Promise<void> {
    flushIndex(this.ctx);
  }

  safetyCheck(): Promise<HaltReason | null> {
    return rootSafety(this.ctx);
  }

  waitForChange(ms: number): Promise<void> {
    const ctx = this.ctx;
    return new Promise((resolve) => {
      if (ctx.stopping) {
        resolve();
        return;
      }
      const w: Waiter = {
        triggered: false,
        timer: undefined,
        done: () => {
          if (w.timer) clearTimeout(w.timer);
          ctx.waiters.delete(w);
          resolve();
        },
      };
      ctx.waiters.add(w);
      if (this.changedSinceRead()) {
        w.triggered = true;
        w.timer = setTimeout(w.done, ctx.settleMs);
      } else {
        w.timer = setTimeout(w.done, Math.max(0, ms));
      }
    });
  }

  // ---------------------------------------------------------------- extras

  /** MasterSource: the operator confirmed the replacement (--resume-halted). */
  acceptRootChange(): Promise<void> {
    return this.resetRootIdentity();
  }

  /** Accept the current root directory as this session's master (after a deliberate replacement). */
  resetRootIdentity(): Promise<void> {
    return resetRootIdentity(this.ctx);
  }

  /** Current synthetic xtime of a directory (diagnostics and tests; not a hand-out). */
  xtimeOf(dir: BytePath): Xtime | null {
    const us = this.ctx.xt.get(dir);
    return us === undefined ? null : xtimeFromUs(us);
  }

  /** Run a verification crawl of `scope` ('' = everything) now; resolves when it is done. */
  verify(scope: BytePath = '', reason = 'requested'): Promise<void> {
    const ctx = this.ctx;
    if (scope === '') return requestFullVerify(ctx, reason);
    return enqueue(ctx, async () => { await verifyTree(ctx, scope, reason); });
  }

  status(): TrackerStatus {
    const ctx = this.ctx;
    return { watching: ctx.sub !== null, degraded: ctx.degraded, trackedDirs: ctx.xt.size, indexedEntries: ctx.index?.entryCount ?? 0, crawls: ctx.crawls, lastCrawl: ctx.lastCrawl, resubscriptions: ctx.resubscriptions };
  }

  /**
   * The watcher failed (error callback, queue overflow, watch limit): events may have been lost.
   * Renew the subscription, then verify the whole tree. Exposed for tests.
   */
  onWatcherError(err: unknown): Promise<void> {
    return onWatcherError(this.ctx, err);
  }

  private changedSinceRead(): boolean {
    const h = this.handed.get('');
    return h === undefined || this.ctx.xt.get('') !== h;
  }
}
