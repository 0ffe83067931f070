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
import fs from 'node:fs';
import path from 'node:path';
import watcher from '@parcel/watcher';
import { baseName, displayPath, fromBytes, fromText, isWithin, joinRel, parentOf, type BytePath } from '../core/bytepath.js';
import type { MasterEntry } from '../core/entry.js';
import { gsyncdError } from '../core/errors.js';
import type { HaltReason } from '../core/safety.js';
import { compareListing, indexedOf, UNKNOWN, type IndexedEntry } from '../core/tracker-compare.js';
import { LinkGroups, linkKey } from '../core/tracker-links.js';
import { eventDir, mapEventPath, nameMatchesText, orderEvents, outermost, type MappedEvent } from '../core/tracker-events.js';
import { MonotonicClock, XtimeTable, wallClockUs, xtimeFromUs } from '../core/tracker-xtime.js';
import type { Xtime } from '../core/xtime.js';
import { absPath, listDir, lstatEntry, type RawStat } from '../fs/tree.js';
import type { EngineLog } from './engine.js';
import { inotifyMaxQueuedEvents, inotifyWatchedKeys, watchKeyOfStat } from './tree-inotify.js';
import type { MasterSource } from './source.js';
import { loadOrCreateId, readRootIdentity, TreeIndex, writeRootIdentity, type RootIdentity } from './tree-index.js';

export interface CrawlProgress {
  /** Why the crawl runs: 'start', 'periodic', 'watcher-error', 'deep', ... */
  readonly reason: string;
  /** Subtree crawled ('' = the whole tree). */
  readonly scope: BytePath;
  readonly dirs: number;
  readonly entries: number;
  /** Directories found changed (bumped) so far. */
  readonly changedDirs: number;
  readonly done: boolean;
  readonly durationMs: number;
}

export interface TreeTrackerOptions {
  /** The master directory (absolute). */
  readonly root: string;
  /** Per-session directory for the tracker's id, index and root identity (created). */
  readonly stateDir: string;
  /** Full verification crawl every N seconds as a backstop (0 = never). */
  readonly verifyIntervalSec: number;
  readonly log: EngineLog;
  /** Crawl progress (entries scanned), reported about once a second and when a crawl ends. */
  readonly onCrawlProgress?: (p: CrawlProgress) => void;
  /** A full verification crawl ended: directories it found changed (metrics). */
  readonly onVerified?: (changedDirs: number) => void;
  /** Watch with inotify (default true). false: changes are found by verification crawls only. */
  readonly watch?: boolean;
  /** Quiet time after a change before waitForChange() resolves, to batch bursts (default 25). */
  readonly settleMs?: number;
  /** Full crawl interval while the watcher cannot be (re)established (default 30; 0 = never). */
  readonly degradedVerifyIntervalSec?: number;
  /** Events within one second that may have overflowed the inotify queue (default: half of max_queued_events). */
  readonly burstVerifyEvents?: number;
  /** Wall clock in µs (tests). */
  readonly wallClockUs?: () => number;
}

export interface TrackerStatus {
  readonly watching: boolean;
  readonly degraded: boolean;
  readonly trackedDirs: number;
  readonly indexedEntries: number;
  readonly crawls: number;
  readonly lastCrawl: CrawlProgress | null;
  readonly resubscriptions: number;
}

interface Waiter {
  triggered: boolean;
  timer: NodeJS.Timeout | undefined;
  done(): void;
}

interface DirInfo {
  readonly rel: BytePath;
  readonly key: string;
  readonly ino: string;
}

interface VerifyResult {
  readonly dirs: number;
  readonly entries: number;
  readonly changed: number;
  /** Directories found strictly below the crawl's top. */
  readonly subdirs: number;
  readonly aborted: boolean;
}

type DeepReason = 'created' | 'unresolved';

/** Parcel delivers the rest of a burst 50 ms after its first event: wait for it. */
const DEEP_DELAY_MS = 100;
/** How long a directory's create event vouches for its watch (its path is right). */
const RECENT_CREATE_MS = 5000;
const ROOT_IDENTITY_FILE = 'root-identity.json';
const VOLUME_ID_FILE = 'volume-id';
const INDEX_FILE = 'index.journal';
/** An ignore path no real path can be under (a component longer than NAME_MAX): gives each subscription its own watcher. */
const GENERATION_COMPONENT = `.gsyncd-watch-generation-${'x'.repeat(260)}-`;

/**
 * Object identity on a plain directory: the inode number, plus the type for non-files. A freed
 * inode is soon reused (ext4 does it at once): a new directory must not pass for a deleted file
 * that had its number (it would be "renamed" from that file's old name).
 */
export function trackerId(ino: bigint | number, type: string): string {
  return type === 'file' ? `ino:${ino}` : `ino:${ino}:${type === 'dir' ? 'd' : type === 'symlink' ? 'l' : 'o'}`;
}

function toMasterEntry(st: RawStat, xtime?: Xtime): MasterEntry {
  const e: MasterEntry = {
    name: st.name, type: st.type, mode: st.mode, uid: st.uid, gid: st.gid, size: st.size,
    mtimeSec: st.mtimeSec, mtimeNsec: st.mtimeNsec, id: trackerId(st.ino, st.type), nlink: st.nlink, ctimeNs: st.ctimeNs,
    ...(st.target !== undefined ? { target: st.target } : {}),
    ...(xtime ? { xtime } : {}),
  };
  return e;
}

/** Index record from what the engine passed when the listing's raw stat is not at hand. */
function indexedOfMaster(e: MasterEntry): IndexedEntry {
  return {
    type: e.type, ino: /^ino:\d+/.test(e.id) ? e.id.slice(4).split(':')[0]! : UNKNOWN, size: e.size,
    mtimeNs: (BigInt(e.mtimeSec) * 1_000_000_000n + BigInt(e.mtimeNsec)).toString(),
    ctimeNs: UNKNOWN, mode: e.mode, uid: e.uid, gid: e.gid,
  };
}

/** The path is not there (a component vanished or became a non-directory meanwhile). */
function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class TreeTracker implements MasterSource {
  readonly kind = 'file' as const;
  readonly volumeId: string;
  private rootPath: string;
  private readonly stateDir: string;
  private readonly log: EngineLog;
  private readonly opts: TreeTrackerOptions;
  private readonly watchEnabled: boolean;
  private readonly settleMs: number;
  private readonly burstThreshold: number;

  private readonly clock: MonotonicClock;
  private readonly xt: XtimeTable;
  private index: TreeIndex | null = null;
  /** Names of multi-link files: a change through one name changes them all. */
  private readonly links = new LinkGroups();
  /** Last known inode of each directory (to tell an attribute change from a replacement). */
  private readonly dirIno = new Map<BytePath, string>();
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
  private identity: RootIdentity | null = null;
  private stateRel: BytePath | null = null;
  private stateAbs: string | null = null;

  private sub: watcher.AsyncSubscription | null = null;
  private watchGen = 0;
  private subGen = 0;
  /** The root spelt through /proc/self/root: parcel caches its tree per root string. */
  private altRoot: string | null = null;
  /** fdinfo keys name the root while watching: /proc tells us what inotify watches here. */
  private coverageUsable: boolean | null = null;
  private rootKey = '';
  /** Directories a renewal was made for that still looked unwatched after it: not checkable. */
  private readonly uncheckableKeys = new Set<string>();
  private readonly renewedKeys = new Set<string>();
  private degraded = false;
  private resubscriptions = 0;
  private started = false;
  private stopping = false;

  private readonly waiters = new Set<Waiter>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private periodicTimer: NodeJS.Timeout | null = null;
  private degradedTimer: NodeJS.Timeout | null = null;

  /** Serializes crawls, deep checks and re-subscriptions. */
  private chain: Promise<unknown> = Promise.resolve();
  private fullQueued: Promise<void> | null = null;
  private eventWork: Promise<void> = Promise.resolve();
  private readonly deepPending = new Map<BytePath, DeepReason>();
  /** Directories whose own create event arrived lately: parcel watched them under that path. */
  private readonly recentDirCreates = new Map<BytePath, number>();
  private deepTimer: NodeJS.Timeout | null = null;
  private readonly coveragePending = new Map<string, DirInfo>();
  private coverageTimer: NodeJS.Timeout | null = null;
  private lastCoverageAt = 0;
  private lastCoverageMs = 0;
  private readonly resubPending = new Set<BytePath>();
  private staleRenewWanted = false;
  private resubTimer: NodeJS.Timeout | null = null;
  private lastResubAt = 0;
  private lastResubMs = 0;
  private burstWindow: { at: number; n: number }[] = [];
  private burstTimer: NodeJS.Timeout | null = null;
  private burstSince = 0;
  private crawls = 0;
  private lastCrawl: CrawlProgress | null = null;

  constructor(opts: TreeTrackerOptions) {
    if (!path.isAbsolute(opts.root)) throw gsyncdError('GSYNCD_ERR_USAGE', `tree tracker root must be absolute: ${opts.root}`);
    this.opts = opts;
    this.rootPath = path.resolve(opts.root);
    this.stateDir = path.resolve(opts.stateDir);
    this.log = opts.log;
    this.watchEnabled = opts.watch ?? true;
    this.settleMs = opts.settleMs ?? 25;
    this.burstThreshold = opts.burstVerifyEvents ?? Math.max(256, Math.floor((inotifyMaxQueuedEvents() ?? 16384) / 2));
    this.clock = new MonotonicClock(0, opts.wallClockUs ?? wallClockUs);
    this.xt = new XtimeTable(this.clock);
    fs.mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    this.volumeId = loadOrCreateId(path.join(this.stateDir, VOLUME_ID_FILE), () => {
      this.log.warn({ stateDir: this.stateDir }, 'tree tracker id file is malformed: creating a new id (the slave will be resynced)');
    });
  }

  /** The master directory (its real path once started). */
  get root(): string {
    return this.rootPath;
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    if (this.started) throw gsyncdError('GSYNCD_ERR_INTERNAL', 'tree tracker started twice');
    this.started = true;
    let st: fs.BigIntStats;
    try {
      st = await fs.promises.stat(this.rootPath, { bigint: true });
    } catch (err) {
      throw gsyncdError('GSYNCD_ERR_MOUNT', `master directory ${this.rootPath} is not reachable: ${errText(err)}`, err);
    }
    if (!st.isDirectory()) throw gsyncdError('GSYNCD_ERR_MOUNT', `master ${this.rootPath} is not a directory`);
    this.rootPath = await fs.promises.realpath(this.rootPath);
    this.rootKey = watchKeyOfStat(st.dev, st.ino);
    this.altRoot = await this.findAltRoot(st);
    this.locateStateDir();
    const idFile = path.join(this.stateDir, ROOT_IDENTITY_FILE);
    this.identity = readRootIdentity(idFile);
    if (!this.identity) {
      this.identity = { dev: st.dev.toString(), ino: st.ino.toString() };
      writeRootIdentity(idFile, this.identity, this.opts.root);
    }
    this.index = TreeIndex.open(path.join(this.stateDir, INDEX_FILE));
    // Every value the slave may hold as a mark was confirmed (and flushed) first: ticks from now
    // on are above all of them even if the wall clock went back while we were down.
    this.clock.observe(this.index.maxXtime);
    if (this.watchEnabled) await this.subscribe('start');
    // Subscribed first: a change during the crawl is either seen by it or reported by an event.
    await this.enqueue(() => this.verifyTree('', 'start', { prune: true }));
    const every = this.opts.verifyIntervalSec;
    if (every > 0) {
      this.periodicTimer = setInterval(() => void this.requestFullVerify('periodic'), every * 1000);
      this.periodicTimer.unref();
    }
    this.log.info({ root: this.rootPath, volumeId: this.volumeId, dirs: this.xt.size, watching: this.sub !== null }, 'tree tracker started');
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const t of [this.periodicTimer, this.degradedTimer, this.deepTimer, this.coverageTimer, this.resubTimer, this.burstTimer]) if (t) clearTimeout(t);
    for (const w of [...this.waiters]) w.done();
    const sub = this.sub;
    this.sub = null;
    if (sub) await sub.unsubscribe().catch((err: unknown) => this.log.warn({ err: errText(err) }, 'watcher unsubscribe failed'));
    await this.chain.catch(() => {});
    await this.eventWork.catch(() => {});
    if (this.index) {
      this.index.noteClock(this.clock.last);
      this.index.close();
      this.index = null;
    }
  }

  // ---------------------------------------------------------------- MasterSource

  async rootXtime(): Promise<Xtime | null> {
    // O(1), no file system access: an idle poll costs nothing.
    this.handedPrev = this.handed;
    this.handed = new Map();
    this.listingsPrev = this.listings;
    this.listings = new Map();
    const us = this.xt.get('') ?? this.xt.bump('');
    this.handed.set('', us);
    return xtimeFromUs(us);
  }

  async list(dir: BytePath): Promise<MasterEntry[] | null> {
    let raw: RawStat[] | null;
    try {
      raw = await listDir(this.rootPath, dir, this.skipFor(dir));
    } catch (err) {
      if (isGone(err)) return null; // replaced while being listed: its parent's xtime moved
      throw err;
    }
    if (!raw) return null;
    this.listings.set(dir, raw);
    return raw.map((st) => {
      if (st.type !== 'dir') {
        this.links.note(joinRel(dir, st.name), linkKey(st));
        return toMasterEntry(st);
      }
      const child = joinRel(dir, st.name);
      const ino = st.ino.toString();
      const known = this.dirIno.get(child);
      if (known !== undefined && known !== ino) {
        // Another directory under a known name and no event said so: never reuse the old value.
        this.xt.delete(child);
        this.requestDeep(child, 'created');
      }
      this.dirIno.set(child, ino);
      const us = this.xt.adopt(child);
      this.handed.set(child, us);
      return toMasterEntry(st, xtimeFromUs(us));
    });
  }

  async lookup(p: BytePath): Promise<MasterEntry | null> {
    let st: RawStat | null;
    try {
      st = await lstatEntry(this.rootPath, p, baseName(p));
    } catch (err) {
      if (isGone(err)) return null; // e.g. an old path whose parent is a file now
      throw err;
    }
    if (!st) return null;
    if (st.type !== 'dir' && p !== '') this.links.note(p, linkKey(st));
    const us = st.type === 'dir' ? this.xt.get(p) : undefined;
    return toMasterEntry(st, us === undefined ? undefined : xtimeFromUs(us));
  }

  confirmDir(dir: BytePath, entries: MasterEntry[]): void {
    if (!this.index) return;
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
    this.index.confirm(dir, recs, this.handed.get(dir) ?? this.handedPrev.get(dir) ?? this.xt.adopt(dir));
  }

  async flush(): Promise<void> {
    if (!this.index) return;
    this.index.noteClock(this.clock.last);
    this.index.flush();
  }

  async safetyCheck(): Promise<HaltReason | null> {
    let st: fs.BigIntStats;
    try {
      st = await fs.promises.stat(this.opts.root, { bigint: true });
      await fs.promises.access(this.opts.root, fs.constants.R_OK | fs.constants.X_OK);
    } catch {
      return 'mount_missing';
    }
    if (!st.isDirectory()) return 'mount_missing';
    const id = this.identity;
    if (id && (id.dev !== st.dev.toString() || id.ino !== st.ino.toString())) return 'root_type_changed';
    return null;
  }

  waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopping) {
        resolve();
        return;
      }
      const w: Waiter = {
        triggered: false,
        timer: undefined,
        done: () => {
          if (w.timer) clearTimeout(w.timer);
          this.waiters.delete(w);
          resolve();
        },
      };
      this.waiters.add(w);
      if (this.changedSinceRead()) {
        w.triggered = true;
        w.timer = setTimeout(w.done, this.settleMs);
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
  async resetRootIdentity(): Promise<void> {
    const st = await fs.promises.stat(this.opts.root, { bigint: true });
    if (!st.isDirectory()) throw gsyncdError('GSYNCD_ERR_MOUNT', `master ${this.opts.root} is not a directory`);
    this.identity = { dev: st.dev.toString(), ino: st.ino.toString() };
    writeRootIdentity(path.join(this.stateDir, ROOT_IDENTITY_FILE), this.identity, this.opts.root);
    this.log.warn({ root: this.opts.root }, 'master root identity reset: the current directory is accepted as the master');
  }

  /** Current synthetic xtime of a directory (diagnostics and tests; not a hand-out). */
  xtimeOf(dir: BytePath): Xtime | null {
    const us = this.xt.get(dir);
    return us === undefined ? null : xtimeFromUs(us);
  }

  /** Run a verification crawl of `scope` ('' = everything) now; resolves when it is done. */
  verify(scope: BytePath = '', reason = 'requested'): Promise<void> {
    if (scope === '') return this.requestFullVerify(reason);
    return this.enqueue(async () => { await this.verifyTree(scope, reason); });
  }

  status(): TrackerStatus {
    return { watching: this.sub !== null, degraded: this.degraded, trackedDirs: this.xt.size, indexedEntries: this.index?.entryCount ?? 0, crawls: this.crawls, lastCrawl: this.lastCrawl, resubscriptions: this.resubscriptions };
  }

  /**
   * The watcher failed (error callback, queue overflow, watch limit): events may have been lost.
   * Renew the subscription, then verify the whole tree. Exposed for tests.
   */
  async onWatcherError(err: unknown): Promise<void> {
    if (this.stopping) return;
    this.log.warn({ err: errText(err) }, 'file watcher failed: events may be lost; re-subscribing and running a full verification crawl');
    await this.enqueue(() => this.subscribe('watcher-error'));
    await this.requestFullVerify('watcher-error');
  }

  // ---------------------------------------------------------------- state files

  /** The state directory inside the tree would sync (and watch) itself: skip it. */
  private locateStateDir(): void {
    let stateReal: string;
    try {
      stateReal = fs.realpathSync(this.stateDir);
    } catch {
      stateReal = this.stateDir;
    }
    const rel = path.relative(this.rootPath, stateReal);
    if (rel === '') throw gsyncdError('GSYNCD_ERR_USAGE', `the tracker state directory cannot be the master root (${this.rootPath})`);
    if (rel === '..' || rel.startsWith('../') || path.isAbsolute(rel)) return;
    this.stateRel = fromText(rel);
    this.stateAbs = stateReal;
  }

  private skipFor(dir: BytePath): ((name: BytePath) => boolean) | undefined {
    const s = this.stateRel;
    if (s === null || parentOf(s) !== dir) return undefined;
    const name = baseName(s);
    return (n) => n === name;
  }

  // ---------------------------------------------------------------- change bookkeeping

  private bump(dir: BytePath): void {
    this.xt.bump(dir);
    this.notifyChange();
  }

  private changedSinceRead(): boolean {
    const h = this.handed.get('');
    return h === undefined || this.xt.get('') !== h;
  }

  private notifyChange(): void {
    for (const w of this.waiters) {
      if (w.triggered) continue;
      w.triggered = true;
      if (w.timer) clearTimeout(w.timer);
      w.timer = setTimeout(w.done, this.settleMs);
    }
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.chain.then(() => (this.stopping ? (undefined as T) : job()));
    this.chain = run.catch((err: unknown) => this.log.error({ err: errText(err) }, 'tree tracker maintenance failed'));
    return run;
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopping) fn();
    }, ms);
    t.unref();
    this.timers.add(t);
    return t;
  }

  private requestFullVerify(reason: string): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (this.fullQueued) return this.fullQueued;
    const p = this.enqueue(async () => {
      if (this.fullQueued === p) this.fullQueued = null;
      await this.verifyTree('', reason, { prune: true });
    });
    this.fullQueued = p;
    return p;
  }

  // ---------------------------------------------------------------- verification crawl

  /**
   * Walk `top`'s subtree comparing each directory with the confirmed index; bump what differs.
   * An unchanged directory without an xtime gets its confirmed one back (that is the restart).
   */
  private async verifyTree(top: BytePath, reason: string, o: { prune?: boolean; collect?: DirInfo[] } = {}): Promise<VerifyResult> {
    const started = Date.now();
    this.crawls++;
    let dirs = 0;
    let entries = 0;
    let changed = 0;
    let subdirs = 0;
    let lastReport = started;
    const visited = o.prune ? new Set<BytePath>() : null;
    const seenLinks = new Set<BytePath>();
    const report = (done: boolean) => {
      const p: CrawlProgress = { reason, scope: top, dirs, entries, changedDirs: changed, done, durationMs: Date.now() - started };
      if (done) this.lastCrawl = p;
      try { this.opts.onCrawlProgress?.(p); } catch (err) { this.log.warn({ err: errText(err) }, 'crawl progress callback failed'); }
    };
    if (top !== '') {
      let st: fs.BigIntStats | null = null;
      try {
        st = await fs.promises.lstat(absPath(this.rootPath, top), { bigint: true });
      } catch { /* gone */ }
      if (!st || !st.isDirectory()) {
        this.bump(eventDir(top));
        report(true);
        return { dirs, entries, changed: 1, subdirs, aborted: false };
      }
      this.dirIno.set(top, st.ino.toString());
      o.collect?.push({ rel: top, key: watchKeyOfStat(st.dev, st.ino), ino: st.ino.toString() });
    }
    const stack: BytePath[] = [top];
    while (stack.length > 0) {
      if (this.stopping) {
        report(true);
        return { dirs, entries, changed, subdirs, aborted: true };
      }
      const d = stack.pop()!;
      let raw: RawStat[] | null;
      try {
        raw = await listDir(this.rootPath, d, this.skipFor(d));
      } catch (err) {
        if (!isGone(err)) {
          // Unreadable: the engine cannot list it either and reports it; keep the rest going.
          this.log.warn({ dir: displayPath(d), err: errText(err) }, 'verification crawl cannot list a directory');
          visited?.add(d);
          continue;
        }
        raw = null;
      }
      if (!raw) {
        if (d !== '') this.bump(eventDir(d)); // vanished after its parent was listed
        changed++;
        continue;
      }
      visited?.add(d);
      dirs++;
      entries += raw.length;
      const cmp = compareListing(this.index?.dir(d), raw.map((r) => ({ name: r.name, entry: indexedOf(r) })));
      if (!cmp.unchanged) {
        this.bump(d);
        changed++;
      } else if (!this.xt.has(d)) {
        const confirmed = this.index?.confirmedXtime(d);
        if (confirmed !== undefined) this.xt.setBaseline(d, confirmed);
        else this.bump(d);
      }
      for (const name of cmp.replacedDirs) {
        const child = joinRel(d, name);
        if (this.xt.has(child) || this.index?.confirmedXtime(child) !== undefined) this.bump(child);
      }
      for (let i = raw.length - 1; i >= 0; i--) {
        const r = raw[i]!;
        if (r.type !== 'dir') {
          const key = linkKey(r);
          const p = joinRel(d, r.name);
          this.links.note(p, key);
          if (key !== null) seenLinks.add(p);
          continue;
        }
        const child = joinRel(d, r.name);
        this.dirIno.set(child, r.ino.toString());
        o.collect?.push({ rel: child, key: watchKeyOfStat(r.dev, r.ino), ino: r.ino.toString() });
        subdirs++;
        stack.push(child);
      }
      if (Date.now() - lastReport >= 1000) {
        lastReport = Date.now();
        report(false);
      }
    }
    this.links.retainWithin(top, (p) => seenLinks.has(p));
    if (visited) {
      // Directories that no longer exist: forget their xtimes (a new one gets a fresh value).
      const dropped = this.xt.retain((dir) => !isWithin(dir, top) || visited.has(dir));
      for (const dir of this.dirIno.keys()) if (isWithin(dir, top) && !visited.has(dir)) this.dirIno.delete(dir);
      if (dropped > 0) this.log.debug({ dropped }, 'forgot xtimes of vanished directories');
    }
    report(true);
    if (changed > 0 || reason !== 'deep') {
      this.log.info({ reason, scope: displayPath(top), dirs, entries, changedDirs: changed, durationMs: Date.now() - started }, 'verification crawl done');
    }
    if (top === '') this.opts.onVerified?.(changed);
    return { dirs, entries, changed, subdirs, aborted: false };
  }

  // ---------------------------------------------------------------- watcher

  /**
   * (Re)subscribe. @parcel/watcher keeps one directory tree per root path string and a new
   * subscription on the same string reuses it, stale as it may be (renamed or moved-in
   * subdirectories). Renewals therefore alternate between two spellings of the root (its path
   * and /proc/self/root + path): the new subscription crawls afresh, and the old one is dropped
   * only once the new one is complete, so no event is lost. Without the alternate spelling the
   * old subscription must go first: `gap` tells the caller to verify the whole tree.
   */
  private async subscribe(reason: string): Promise<{ ok: boolean; gap: boolean }> {
    if (!this.watchEnabled || this.stopping) return { ok: false, gap: false };
    const gen = ++this.watchGen;
    let gap = false;
    if (this.sub && this.altRoot === null) {
      const old = this.sub;
      this.sub = null;
      gap = true;
      await old.unsubscribe().catch((err: unknown) => this.log.debug({ err: errText(err) }, 'old watcher subscription already gone'));
    }
    const watchRoot = this.watchRootOf(gen);
    const ignore = [path.join(watchRoot, `${GENERATION_COMPONENT}${gen}`)];
    if (this.stateAbs) ignore.push(watchRoot + this.stateAbs.slice(this.rootPath.length));
    const started = Date.now();
    try {
      const sub = await watcher.subscribe(watchRoot, (err, events) => this.onWatch(gen, err, events), {
        ignore,
        ...(process.platform === 'linux' ? { backend: 'inotify' as const } : {}),
      });
      if (this.stopping) {
        await sub.unsubscribe().catch(() => {});
        return { ok: false, gap };
      }
      const old = this.sub;
      this.sub = sub;
      this.subGen = gen;
      if (old) await old.unsubscribe().catch((err: unknown) => this.log.debug({ err: errText(err) }, 'old watcher subscription already gone'));
      if (reason !== 'start') this.resubscriptions++;
      if (this.degraded) this.log.info({}, 'file watcher re-established');
      this.degraded = false;
      if (this.degradedTimer) {
        clearInterval(this.degradedTimer);
        this.degradedTimer = null;
      }
      this.log.debug({ reason, watchRoot, ms: Date.now() - started }, 'watching the master tree');
      return { ok: true, gap };
    } catch (err) {
      this.enterDegraded(err);
      return { ok: false, gap: true };
    }
  }

  /** `rest` ('' or '/...') below the alternate spelling, as a path below the real root. */
  private fromWatchRoot(rest: string): string {
    if (rest === '') return this.rootPath;
    return this.rootPath === '/' ? rest : this.rootPath + rest;
  }

  private watchRootOf(gen: number): string {
    return this.altRoot !== null && gen % 2 === 0 ? this.altRoot : this.rootPath;
  }

  private async findAltRoot(rootSt: fs.BigIntStats): Promise<string | null> {
    if (process.platform !== 'linux') return null;
    const alt = this.rootPath === '/' ? '/proc/self/root' : `/proc/self/root${this.rootPath}`;
    try {
      const st = await fs.promises.stat(alt, { bigint: true });
      return st.dev === rootSt.dev && st.ino === rootSt.ino ? alt : null;
    } catch {
      return null;
    }
  }

  private enterDegraded(err: unknown): void {
    const every = this.opts.degradedVerifyIntervalSec ?? 30;
    this.log.warn({ err: errText(err), fullCrawlEverySec: every }, 'cannot watch the master tree (inotify watch limit? raise fs.inotify.max_user_watches): changes are found by periodic verification crawls until watching works again');
    this.degraded = true;
    if (!this.degradedTimer && every > 0 && !this.stopping) {
      this.degradedTimer = setInterval(() => {
        void (async () => {
          await this.enqueue(() => this.subscribe('retry'));
          await this.requestFullVerify('degraded');
        })();
      }, every * 1000);
      this.degradedTimer.unref();
    }
  }

  private onWatch(gen: number, err: Error | null, events: watcher.Event[]): void {
    // Never throw here: an exception in this callback is fatal to the process.
    try {
      if (this.stopping) return;
      if (err) {
        if (gen !== this.subGen) this.log.debug({ err: errText(err) }, 'error from a replaced watcher subscription');
        else void this.onWatcherError(err);
        return;
      }
      const stateAbs = this.stateAbs;
      const watchRoot = this.watchRootOf(gen);
      this.noteBurst(events.length);
      const mapped: MappedEvent[] = [];
      for (const e of events) {
        const p = watchRoot === this.rootPath || !e.path.startsWith(watchRoot) ? e.path : this.fromWatchRoot(e.path.slice(watchRoot.length));
        if (stateAbs && (p === stateAbs || p.startsWith(stateAbs + '/'))) continue; // our own writes
        const m = mapEventPath(this.rootPath, e.type, p);
        if (m) mapped.push(m);
      }
      const slow: MappedEvent[] = [];
      for (const m of orderEvents(mapped)) {
        const last = m.textComponents.length - 1;
        if (m.suspectFrom >= 0 && m.suspectFrom < last) {
          slow.push(m); // a mangled ancestor: resolve before bumping anything
          continue;
        }
        this.xt.bump(eventDir(m.rel)); // the parent is exact even when the last name is mangled
        if (m.suspectFrom < 0) for (const q of this.links.others(m.rel)) this.xt.bump(parentOf(q));
        if (m.type === 'delete') {
          if (m.suspectFrom < 0) {
            this.xt.delete(m.rel);
            this.dirIno.delete(m.rel);
            this.links.remove(m.rel);
          }
          continue;
        }
        if (m.rel === '') continue;
        if (m.suspectFrom >= 0 || m.type === 'create' || this.xt.has(m.rel)) slow.push(m);
      }
      if (mapped.length > 0) this.notifyChange();
      if (slow.length > 0) {
        this.eventWork = this.eventWork.then(() => this.resolveEvents(slow)).catch((e: unknown) => {
          this.log.warn({ err: errText(e) }, 'cannot resolve watcher events: verifying the tree');
          void this.requestFullVerify('event-error');
        });
      }
    } catch (e) {
      this.log.error({ err: errText(e) }, 'watcher event handling failed');
      void this.onWatcherError(e);
    }
  }

  /** Events that need the file system: mangled names, and whether a path is a new directory. */
  private async resolveEvents(events: MappedEvent[]): Promise<void> {
    const cache = new Map<string, BytePath | null>();
    for (const m of events) {
      if (this.stopping) return;
      let rel = m.rel;
      if (m.suspectFrom >= 0) {
        const r = await this.resolveMangled(m, cache);
        if (r.rel === null) {
          this.bump(r.nearest);
          if (r.failedAt < m.textComponents.length - 1 || (m.type !== 'delete' && r.ambiguous)) this.requestDeep(r.nearest, 'unresolved');
          continue;
        }
        rel = r.rel;
        this.bump(eventDir(rel));
        for (const q of this.links.others(rel)) this.bump(parentOf(q));
        if (m.type === 'delete') {
          this.xt.delete(rel);
          this.links.remove(rel);
          continue;
        }
      }
      if (m.type === 'delete') continue;
      let st: fs.BigIntStats;
      try {
        st = await fs.promises.lstat(absPath(this.rootPath, rel), { bigint: true });
      } catch {
        // Gone again (its delete event bumps the parent). A new name in a directory that does
        // not exist is a stale watch: a subtree renamed or moved out keeps reporting old paths.
        if (m.type === 'create' && rel !== '' && !(await this.isDir(parentOf(rel)))) this.renewForStalePaths();
        continue;
      }
      if (!st.isDirectory()) {
        // A new name of an existing file: the others' link count (ctime) changed with it.
        const key = linkKey({ type: st.isFile() ? 'file' : 'other', nlink: Number(st.nlink), dev: st.dev, ino: st.ino });
        for (const q of this.links.note(rel, key)) this.bump(parentOf(q));
        continue;
      }
      const ino = st.ino.toString();
      const known = this.dirIno.get(rel);
      this.dirIno.set(rel, ino);
      this.bump(rel);
      if (m.type === 'create') this.recentDirCreates.set(rel, Date.now());
      // A new directory, or another one under a known name (rename over it, rm -r + mkdir).
      if (m.type === 'create' || known !== ino) this.requestDeep(rel, 'created');
    }
  }

  /**
   * Find the real byte path of an event path whose text lost bytes (U+FFFD), by matching the
   * lossy decoding of real names component by component.
   */
  private async resolveMangled(m: MappedEvent, cache: Map<string, BytePath | null>): Promise<{ rel: BytePath; nearest?: undefined } | { rel: null; nearest: BytePath; failedAt: number; ambiguous: boolean }> {
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
          names = await fs.promises.readdir(absPath(this.rootPath, prefix), { encoding: 'buffer' });
        } catch { /* parent gone */ }
        const matches = (names ?? []).filter((b) => nameMatchesText(b, text));
        ambiguous = matches.length > 1;
        resolved = matches.length === 1 ? joinRel(prefix, fromBytes(matches[0]!)) : null;
        cache.set(key, resolved);
      }
      if (resolved === null) return { rel: null, nearest: await this.nearestExisting(prefix), failedAt: i, ambiguous };
      prefix = resolved;
    }
    return { rel: prefix };
  }

  private async isDir(rel: BytePath): Promise<boolean> {
    try {
      return (await fs.promises.lstat(absPath(this.rootPath, rel))).isDirectory();
    } catch {
      return false;
    }
  }

  private renewForStalePaths(): void {
    if (this.staleRenewWanted || !this.sub) return;
    this.staleRenewWanted = true;
    this.log.debug({}, 'watcher reports paths that do not exist: renewing it');
    this.scheduleResubscribe();
  }

  private async nearestExisting(rel: BytePath): Promise<BytePath> {
    for (let d = rel; ; d = parentOf(d)) {
      if (d === '') return '';
      try {
        if ((await fs.promises.lstat(absPath(this.rootPath, d))).isDirectory()) return d;
      } catch { /* keep going up */ }
    }
  }

  /** Many events at once: the kernel queue may have overflowed (parcel drops that notice). */
  private noteBurst(n: number): void {
    const now = Date.now();
    this.burstWindow.push({ at: now, n });
    while (this.burstWindow.length > 0 && this.burstWindow[0]!.at < now - 1000) this.burstWindow.shift();
    const total = this.burstWindow.reduce((s, b) => s + b.n, 0);
    if (total >= this.burstThreshold && this.burstSince === 0) {
      this.burstSince = now;
      this.log.info({ events: total }, 'burst of file events: a full verification crawl follows once it is over (inotify may have dropped events)');
    }
    if (this.burstSince === 0) return;
    if (this.burstTimer) clearTimeout(this.burstTimer);
    const wait = Math.max(0, Math.min(1000, this.burstSince + 10_000 - now));
    this.burstTimer = this.later(wait, () => {
      this.burstTimer = null;
      this.burstSince = 0;
      void this.requestFullVerify('event-burst');
    });
  }

  // ---------------------------------------------------------------- deep checks and coverage

  private requestDeep(rel: BytePath, why: DeepReason): void {
    if (this.stopping) return;
    if (this.deepPending.get(rel) !== 'created') this.deepPending.set(rel, why);
    if (this.deepTimer) return;
    this.deepTimer = this.later(DEEP_DELAY_MS, () => {
      this.deepTimer = null;
      void this.enqueue(() => this.runDeep());
    });
  }

  /**
   * Verify the subtrees of new directories (what happened in them before their watch existed),
   * then make sure every directory in them is watched under its real path.
   */
  private async runDeep(): Promise<void> {
    const pending = new Map(this.deepPending);
    this.deepPending.clear();
    if (pending.size === 0) return;
    let renew = false;
    const now = Date.now();
    for (const [p, at] of this.recentDirCreates) if (at < now - RECENT_CREATE_MS) this.recentDirCreates.delete(p);
    const tops = outermost(pending.keys());
    for (const top of tops) {
      const collected: DirInfo[] = [];
      const r = await this.verifyTree(top, 'deep', { collect: collected });
      if (r.aborted) return;
      const created = [...pending].some(([p, why]) => why === 'created' && isWithin(p, top));
      // A subdirectory of a new directory that parcel never reported as created was moved in
      // with it (never watched), renamed with it (watched under a stale path) or raced its
      // parent's watch (mkdir -p). Only a fresh subscription is sure to be right then.
      if (created && r.subdirs > 0 && collected.some((d) => d.rel !== top && !this.recentDirCreates.has(d.rel))) {
        renew = true;
        this.resubPending.add(top);
      } else {
        for (const d of collected) this.coveragePending.set(d.key, d);
      }
    }
    if (renew) this.scheduleResubscribe();
    if (this.coveragePending.size > 0) this.scheduleCoverage();
  }

  private scheduleCoverage(): void {
    if (this.coverageTimer || !this.sub) return;
    const wait = Math.max(0, this.lastCoverageAt + Math.max(200, 20 * this.lastCoverageMs) - Date.now());
    this.coverageTimer = this.later(wait, () => {
      this.coverageTimer = null;
      void this.enqueue(() => this.checkCoverage());
    });
  }

  /** New directories that inotify does not watch (watch limit): renew, or fall back to crawls. */
  private async checkCoverage(): Promise<void> {
    const pending = [...this.coveragePending.values()];
    this.coveragePending.clear();
    if (pending.length === 0 || !this.sub) return;
    const started = Date.now();
    const watched = await inotifyWatchedKeys();
    this.lastCoverageAt = Date.now();
    this.lastCoverageMs = this.lastCoverageAt - started;
    if (!watched) return; // not observable here: the periodic crawl is the backstop
    if (this.coverageUsable === null && this.sub) {
      this.coverageUsable = watched.has(this.rootKey);
      if (!this.coverageUsable) this.log.info({}, 'inotify watches cannot be matched with directories on this file system: relying on verification crawls for watch gaps');
    }
    if (!this.coverageUsable) return;
    const missing: DirInfo[] = [];
    for (const d of pending) {
      if (watched.has(d.key) || this.uncheckableKeys.has(d.key)) continue;
      try {
        const st = await fs.promises.lstat(absPath(this.rootPath, d.rel), { bigint: true });
        if (st.isDirectory() && st.ino.toString() === d.ino) missing.push(d);
      } catch { /* gone: nothing to watch */ }
    }
    if (missing.length === 0) return;
    const again = missing.filter((d) => this.renewedKeys.has(d.key));
    for (const d of again) this.uncheckableKeys.add(d.key);
    if (again.length > 0) this.log.info({ dirs: again.length, example: displayPath(again[0]!.rel) }, 'directories still look unwatched after renewing the watcher: not checking them again (verification crawls cover them)');
    const fresh = missing.filter((d) => !this.renewedKeys.has(d.key));
    if (fresh.length === 0) return;
    for (const d of fresh) this.renewedKeys.add(d.key);
    this.log.warn({ dirs: fresh.length, example: displayPath(fresh[0]!.rel) }, 'new directories are not watched (inotify watch limit?): renewing the watcher');
    for (const m of outermost(fresh.map((d) => d.rel))) this.resubPending.add(m);
    this.scheduleResubscribe();
  }

  private scheduleResubscribe(): void {
    if (this.resubTimer) return;
    const wait = Math.max(0, this.lastResubAt + Math.max(1000, 10 * this.lastResubMs) - Date.now());
    this.resubTimer = this.later(wait, () => {
      this.resubTimer = null;
      void this.enqueue(() => this.resubscribeAndVerify());
    });
  }

  private async resubscribeAndVerify(): Promise<void> {
    const tops = outermost(this.resubPending);
    this.resubPending.clear();
    const stale = this.staleRenewWanted;
    this.staleRenewWanted = false;
    if (tops.length === 0 && !stale) return;
    const started = Date.now();
    const { ok, gap } = await this.subscribe('coverage');
    this.lastResubAt = Date.now();
    this.lastResubMs = this.lastResubAt - started;
    if (!ok || gap) {
      await this.verifyTree('', 'watch-gap', { prune: true });
      return;
    }
    // Everything is watched under its real path now; what changed before is found by the crawl.
    for (const top of tops) {
      const collected: DirInfo[] = [];
      await this.verifyTree(top, 'deep', { collect: collected });
      for (const d of collected) this.coveragePending.set(d.key, d);
    }
    if (this.coveragePending.size > 0) this.scheduleCoverage();
  }
}
