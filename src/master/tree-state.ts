// What the tree tracker's parts share (one tracker, one context): its options, the synthetic
// xtimes and what it knows of the tree, the watcher subscription, and the timers and queues of
// its maintenance work (crawls, deep checks, coverage checks, renewals).
import path from 'node:path';
import type watcher from '@parcel/watcher';
import type { BytePath } from '../core/bytepath.js';
import { LinkGroups } from '../core/tracker-links.js';
import { BurstDetector } from '../core/tracker-events.js';
import type { DeepReason } from '../core/tracker-watch.js';
import { MonotonicClock, XtimeTable, wallClockUs } from '../core/tracker-xtime.js';
import type { EngineLog } from '../log/logger.js';
import type { CrawlProgress, TreeTrackerOptions } from './tree-contract.js';
import type { RootIdentity, TreeIndex } from './tree-index.js';
import { inotifyMaxQueuedEvents } from './tree-inotify.js';

export interface Waiter {
  triggered: boolean;
  timer: NodeJS.Timeout | undefined;
  done(): void;
}

/** A directory a crawl found, with its inotify watch key (see tree-inotify). */
export interface DirInfo {
  readonly rel: BytePath;
  readonly key: string;
  readonly ino: string;
}

export type WatchCallback = (gen: number, err: Error | null, events: watcher.Event[]) => void;

export interface TrackerContext {
  readonly opts: TreeTrackerOptions;
  readonly log: EngineLog;
  /** The master directory (its real path once started). */
  rootPath: string;
  readonly stateDir: string;
  readonly watchEnabled: boolean;
  readonly settleMs: number;
  readonly clock: MonotonicClock;
  readonly xt: XtimeTable;
  index: TreeIndex | null;
  /** Names of multi-link files: a change through one name changes them all. */
  readonly links: LinkGroups;
  /** Last known inode of each directory (to tell an attribute change from a replacement). */
  readonly dirIno: Map<BytePath, string>;
  identity: RootIdentity | null;
  /** The state directory when it lies inside the tree (skipped by listings and the watcher). */
  stateRel: BytePath | null;
  stateAbs: string | null;
  stopping: boolean;
  readonly waiters: Set<Waiter>;
  readonly timers: Set<NodeJS.Timeout>;
  /** Serializes crawls, deep checks and re-subscriptions. */
  chain: Promise<unknown>;
  fullQueued: Promise<void> | null;
  crawls: number;
  lastCrawl: CrawlProgress | null;

  // The watcher subscription (tree-watch).
  /** Where a subscription delivers its events (tree-events; set by the tracker). */
  readonly onWatch: WatchCallback;
  sub: watcher.AsyncSubscription | null;
  watchGen: number;
  subGen: number;
  /** The root spelt through /proc/self/root: parcel caches its tree per root string. */
  altRoot: string | null;
  rootKey: string;
  degraded: boolean;
  degradedTimer: NodeJS.Timeout | null;
  resubscriptions: number;

  // Events (tree-events).
  eventWork: Promise<void>;
  readonly burst: BurstDetector;
  burstTimer: NodeJS.Timeout | null;

  // Deep checks, coverage checks and renewals (tree-deep).
  readonly deepPending: Map<BytePath, DeepReason>;
  /** Directories whose own create event arrived lately: parcel watched them under that path. */
  readonly recentDirCreates: Map<BytePath, number>;
  deepTimer: NodeJS.Timeout | null;
  readonly coveragePending: Map<string, DirInfo>;
  coverageTimer: NodeJS.Timeout | null;
  lastCoverageAt: number;
  lastCoverageMs: number;
  /** fdinfo keys name the root while watching: /proc tells us what inotify watches here. */
  coverageUsable: boolean | null;
  /** Directories a renewal was made for that still looked unwatched after it: not checkable. */
  readonly uncheckableKeys: Set<string>;
  readonly renewedKeys: Set<string>;
  readonly resubPending: Set<BytePath>;
  staleRenewWanted: boolean;
  resubTimer: NodeJS.Timeout | null;
  lastResubAt: number;
  lastResubMs: number;
}

export function createContext(opts: TreeTrackerOptions, onWatch: WatchCallback): TrackerContext {
  const clock = new MonotonicClock(0, opts.wallClockUs ?? wallClockUs);
  return {
    opts, log: opts.log, rootPath: path.resolve(opts.root), stateDir: path.resolve(opts.stateDir),
    watchEnabled: opts.watch ?? true, settleMs: opts.settleMs ?? 25,
    clock, xt: new XtimeTable(clock), index: null, links: new LinkGroups(), dirIno: new Map(),
    identity: null, stateRel: null, stateAbs: null, stopping: false,
    waiters: new Set(), timers: new Set(), chain: Promise.resolve(), fullQueued: null, crawls: 0, lastCrawl: null,
    onWatch, sub: null, watchGen: 0, subGen: 0, altRoot: null, rootKey: '', degraded: false, degradedTimer: null, resubscriptions: 0,
    eventWork: Promise.resolve(),
    burst: new BurstDetector(opts.burstVerifyEvents ?? Math.max(256, Math.floor((inotifyMaxQueuedEvents() ?? 16384) / 2))),
    burstTimer: null,
    deepPending: new Map(), recentDirCreates: new Map(), deepTimer: null,
    coveragePending: new Map(), coverageTimer: null, lastCoverageAt: 0, lastCoverageMs: 0, coverageUsable: null,
    uncheckableKeys: new Set(), renewedKeys: new Set(),
    resubPending: new Set(), staleRenewWanted: false, resubTimer: null, lastResubAt: 0, lastResubMs: 0,
  };
}

/** Something inside `dir` changed: move its xtime (and its ancestors') and wake the waiters. */
export function bump(ctx: TrackerContext, dir: BytePath): void {
  ctx.xt.bump(dir);
  notifyChange(ctx);
}

export function notifyChange(ctx: TrackerContext): void {
  for (const w of ctx.waiters) {
    if (w.triggered) continue;
    w.triggered = true;
    if (w.timer) clearTimeout(w.timer);
    w.timer = setTimeout(w.done, ctx.settleMs);
  }
}

/** Run `job` after the maintenance work queued before it (nothing once stopping). */
export function enqueue<T>(ctx: TrackerContext, job: () => Promise<T>): Promise<T> {
  const run = ctx.chain.then(() => (ctx.stopping ? (undefined as T) : job()));
  ctx.chain = run.catch((err: unknown) => ctx.log.error({ err: errText(err) }, 'tree tracker maintenance failed'));
  return run;
}

/** An unref'd timer that stop() clears and that does nothing once stopping. */
export function later(ctx: TrackerContext, ms: number, fn: () => void): NodeJS.Timeout {
  const t = setTimeout(() => {
    ctx.timers.delete(t);
    if (!ctx.stopping) fn();
  }, ms);
  t.unref();
  ctx.timers.add(t);
  return t;
}

/** The path is not there (a component vanished or became a non-directory meanwhile). */
export function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
