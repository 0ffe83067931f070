// One sync pass: descend from the root into directories whose master xtime is newer than their
// slave mark, compare listings, apply entry ops and data in bounded batches, and only when the
// slave confirmed everything below a directory stamp it with the xtime read *before* its listing.
// A crash at any point leaves marks stale, so the next pass revisits exactly what is unconfirmed.
import { displayPath, joinRel, parentOf, type BytePath } from '../core/bytepath.js';
import { diffDirectory, type DirDiff } from '../core/diff.js';
import { dirsAlongRuns, splitForJobs } from '../core/jobs.js';
import { attrsDiffer, dataDiffers, type EntryType, type MasterEntry, type SlaveEntry } from '../core/entry.js';
import type { IdMap } from '../core/id-map.js';
import { opPaths, type EntryOp, type OpResult } from '../core/ops.js';
import { decisionCount, emptyDecisions, planBatch, type DataItem, type Decisions } from '../core/plan.js';
import { rootEmptiedHalt, type HaltReason } from '../core/safety.js';
import { DeleteGuard, type DeleteGuardConfig, type SubtreeCount, type Trip } from '../core/delete-guard.js';
import { marksToWrite } from '../core/marks.js';
import { URXTIME, compareXtime, formatXtime, xtimeNewer, type Xtime } from '../core/xtime.js';
import { hasEntries, vanishedNames } from '../fs/tree.js';
import type { SlaveEndpoint } from '../slave/endpoint.js';
import { destPath, failedPathsOf, runRsync, vanishedPathsOf, type RsyncConfig, type RsyncResult, type RsyncRun } from '../transport/rsync.js';
import type { MasterSource } from './source.js';

export interface EngineConfig {
  readonly markKey: string;
  readonly rsync: RsyncConfig;
  readonly syncJobs: number;
  readonly ignoreDeletes: boolean;
  /** The mass-deletion guard and the delete delay (core/delete-guard.ts). */
  readonly deletes: DeleteGuardConfig;
  readonly maxRsyncRetries: number;
  readonly batchMaxEntries: number;
  readonly batchMaxBytes: number;
  /** Delay before rsync retry `attempt` (1-based). */
  readonly retryDelayMs: (attempt: number) => number;
}

export interface EngineLog {
  /** Every entry op and its result (optional: loggers without trace skip it). */
  trace?(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface EngineEvents {
  /** The pass has work (the root's xtime is past its mark): not an idle poll. */
  onBusy?(): void;
  onScanned?(entries: number): void;
  onBatch?(summary: BatchSummary): void;
  onRsync?(run: RsyncRun): void;
  onEntryOps?(ops: EntryOp[], results: OpResult[]): void;
  /**
   * A batch sent a name of a linked file whose other names are not all known to be on the slave
   * as links of it (the group may be split there until a verification pass). Called before the
   * batch's directories are marked, so the caller can record it durably.
   */
  onLinkDebt?(): void;
}

export interface PassOptions {
  /**
   * Visit every directory, whatever its mark says: a full comparison with the slave that finds
   * what change detection cannot (hard-link groups split on the slave, a slave changed behind
   * our back). Not idle even when the root's mark is current.
   */
  readonly verify?: boolean;
}

export interface BatchSummary {
  readonly entryOps: number;
  readonly dataFiles: number;
  readonly dataBytes: number;
  readonly bytesSent: number;
  readonly failures: number;
  readonly durationMs: number;
}

export interface PassReport {
  /** Nothing newer than the root's mark: no work was needed. */
  readonly idle: boolean;
  /** The root was stamped with its xtime: everything up to `rootXtime` is on the slave. */
  readonly complete: boolean;
  readonly rootXtime: Xtime | null;
  /**
   * The mark the root got in this pass: `rootXtime` when complete, lower when something below
   * failed (everything up to it is on the slave); null = not marked in this pass.
   */
  readonly rootMark: Xtime | null;
  readonly halted: HaltReason | null;
  readonly dirsVisited: number;
  readonly scanned: number;
  readonly entryOps: number;
  readonly dataFiles: number;
  readonly bytesSent: number;
  readonly failures: string[];
  /**
   * What could not be applied because the master changed under the pass (a name or directory
   * gone by the time its op or transfer ran: ENOENT). Left unmarked like failures, but redone by
   * the next pass without backing off: under steady churn every pass has some.
   */
  readonly churn: string[];
  /**
   * Hard-link groups this pass found, or left, not known to be whole on the slave (a name sent
   * as a copy while other names of the file are unknown): a verification pass joins them.
   */
  readonly linkDebt: number;
  /** Deletes held back (delete delay, or the guard): their directories stay unmarked. */
  readonly heldDeletes: number;
  /** The deletes this pass would apply crossed a limit: none was applied (a mass_delete halt). */
  readonly massDelete: Trip | null;
}

interface Visit {
  readonly dir: BytePath;
  /** Xtime read before this directory was listed (from the parent's listing); null = unknown. */
  readonly xtime: Xtime | null;
  /** Its slave mark when the parent was listed (what was synced); null = none or not trusted. */
  readonly stime: Xtime | null;
  /** The directory's own master stat (for its attributes after its children changed). */
  entry: MasterEntry | null;
  readonly parent: Visit | null;
  /** Its slave side appears only after a pending rename is applied. */
  needsFlush: boolean;
  entries: MasterEntry[] | null;
  changed: boolean;
  failed: boolean;
  incomplete: boolean;
  /** Its batch was applied (whatever failed of it is known). */
  flushed: boolean;
  /** Its mark was written in this pass (a closed subtree is stamped as soon as it is closed). */
  marked: boolean;
}

type Listings = [MasterEntry[] | null, SlaveEntry[] | null];

/** Below this many files a batch reads from the uncached root rather than wait for the read mount. */
const READ_MOUNT_MIN_FILES = 200;

/** Directories listed ahead of their visit (both sides), to overlap FUSE round trips. */
const PREFETCH_DIRS = 6;

interface Deferred {
  readonly path: BytePath;
  readonly type: EntryType;
  readonly owner: Visit;
}

class Batch {
  decisions: Decisions = emptyDecisions();
  readonly visits: Visit[] = [];
  /** Which visit owns an op's path (its parent directory's visit). */
  readonly owner = new Map<BytePath, Visit>();
  /** Objects this batch sends by data, for hard links among new names. */
  readonly sentIds = new Map<string, BytePath>();
  /** Directories whose entries change as a side effect (rename sources). */
  readonly touchedDirs = new Set<BytePath>();
  /** Sources of this batch's renames. */
  readonly renamed = new Set<BytePath>();
  /** Other names of link groups made whole again after the data (see relinkPartners). */
  readonly relinks: { existing: BytePath; path: BytePath; id: string }[] = [];
  /** Linked files (id → master link count) sent or found split in this batch (see linkDebt). */
  readonly linkCandidates = new Map<string, number>();
  /** Names new on the slave in this batch (young for the delete guard). */
  readonly created: BytePath[] = [];
  dataBytes = 0;
  /** When the last listing of this batch was in hand (ms): the data it decided on was seen by then. */
  listedUntil = 0;
  get size(): number { return decisionCount(this.decisions); }
}

export class SyncEngine {
  private batchSeq = 0;
  private stopRequested = false;
  /**
   * Slave entries of this pass's listings that the master lacks under that name (possible
   * rename sources), with the slave's stat: a file renamed on the master whose slave copy
   * already matches in size, mtime, mode and owner is only moved, not re-checked by rsync.
   */
  private slaveExtras = new Map<BytePath, SlaveEntry>();
  /** Slave paths a rename of this pass moved away (confirmed): nothing is left there to delete. */
  private movedAway = new Set<BytePath>();
  /** Linked files of this pass that may be split on the slave: id → master link count. */
  private passLinks = new Map<string, number>();
  /** Directories with deletes deferred to the end of this pass, which set their times after them. */
  private deferredDirs = new Set<BytePath>();
  /** Of those, directories whose attributes a batch left to that step (see flush). */
  private attrsAfterDeletes = new Set<BytePath>();
  /** Lives across passes: the pending deletes and the window are the point of it. */
  private readonly guard: DeleteGuard;
  /** The operator confirmed a mass deletion (--resume-halted): the next pass applies it all. */
  private deletesConfirmed = false;

  constructor(
    private readonly master: MasterSource,
    private readonly slave: SlaveEndpoint,
    private readonly ids: IdMap,
    private readonly cfg: EngineConfig,
    private readonly log: EngineLog,
    private readonly events: EngineEvents = {},
    /** Persist the id map; called before marks are written. */
    private readonly persistIds: () => void = () => {},
    /** These ops are about to change the slave's names: the persisted id map may be wrong about them until persistIds. */
    private readonly idsStale: (ops: readonly EntryOp[]) => void = () => {},
  ) {
    this.guard = new DeleteGuard(cfg.deletes);
  }

  /** --resume-halted after a mass_delete halt: apply the held deletes (until a pass completes). */
  confirmDeletes(on: boolean): void {
    this.deletesConfirmed = on;
  }

  /** Stop at the next safe point: no new batch, no further retry; the pass stays unmarked. */
  requestStop(): void {
    this.stopRequested = true;
  }

  /**
   * One pass. `slaveRootMark` is the caller's knowledge of the slave root's mark (re-read by the
   * caller as often as it wants to notice an emptied or restored slave).
   */
  async pass(slaveRootMark: Xtime | null, everSynced: boolean, opts: PassOptions = {}): Promise<PassReport> {
    this.passLinks = new Map();
    const report = await this.runPass(slaveRootMark, everSynced, opts.verify === true);
    // Also when the pass ended early (halted, stopped): its batches may have marked copies.
    const linkDebt = this.openLinkGroups();
    if (linkDebt > 0) this.log.info({ groups: linkDebt }, 'hard-link groups that may be split on the slave: a verification pass will join them');
    return { ...report, linkDebt };
  }

  private async runPass(slaveRootMark: Xtime | null, everSynced: boolean, verify: boolean): Promise<PassReport> {
    const report = { idle: false, complete: false, rootXtime: null as Xtime | null, halted: null as HaltReason | null, dirsVisited: 0, scanned: 0, entryOps: 0, dataFiles: 0, bytesSent: 0, failures: [] as string[], churn: [] as string[], rootMark: null as Xtime | null, linkDebt: 0, heldDeletes: 0, massDelete: null as Trip | null };
    let rootX: Xtime | null;
    try {
      rootX = await this.master.rootXtime();
    } catch (err) {
      const halt = await this.master.safetyCheck(); // a lost mount is a halt, not a failed pass
      if (halt) return { ...report, halted: halt };
      throw err;
    }
    const mark = slaveRootMark ?? URXTIME;
    const idle = rootX !== null && compareXtime(mark, rootX) === 0 && !verify;
    const early = await this.master.safetyCheck({ afterRootXtime: idle });
    if (early) return { ...report, halted: early };
    report.rootXtime = rootX;
    if (!rootX) {
      this.log.warn({}, 'master has no xtime yet (is geo-replication.indexing on?): waiting');
      return report;
    }
    if (idle) return { ...report, idle: true, complete: true };
    this.events.onBusy?.();
    if (xtimeNewer(mark, rootX)) {
      this.log.error({ slaveMark: formatXtime(mark), masterXtime: formatXtime(rootX) },
        'slave root mark is newer than the master root xtime (timestamp corruption or a different master): resyncing the whole tree');
    }

    this.slaveExtras = new Map();
    this.movedAway = new Set();
    this.deferredDirs = new Set();
    this.attrsAfterDeletes = new Set();
    const rootStime = slaveRootMark && !xtimeNewer(slaveRootMark, rootX) ? slaveRootMark : null;
    const rootVisit: Visit = { dir: '', xtime: rootX, stime: rootStime, entry: await this.master.lookup(''), parent: null, needsFlush: false, entries: null, changed: false, failed: false, incomplete: false, flushed: false, marked: false };
    const all: Visit[] = [];
    const deferred: Deferred[] = [];
    const stack: Visit[] = [rootVisit];
    let batch = new Batch();
    // Listings of the next directories on the stack, started ahead of their visits. Dropped at
    // every flush: a flush changes the slave, so a listing read before it may be stale.
    let ahead = new Map<Visit, Promise<Listings>>();
    const listAhead = () => {
      for (let i = stack.length - 1, n = 0; i >= 0 && n < PREFETCH_DIRS; i--, n++) {
        const next = stack[i]!;
        if (next.needsFlush) continue; // its slave side appears only after the flush
        if (ahead.has(next)) continue;
        const p = this.listBoth(next.dir);
        p.catch(() => {}); // awaited (and its error raised) by the visit, if it comes to one
        ahead.set(next, p);
      }
    };
    // Renamed directories wait for the next flush instead of forcing one each: a busy master
    // renames many, and one flush per directory made catching up slower than the churn.
    const afterFlush: Visit[] = [];
    const flushNow = async () => {
      ahead = new Map();
      await this.flush(batch, report);
      batch = new Batch();
      for (const w of afterFlush) w.needsFlush = false;
      stack.push(...afterFlush.reverse());
      afterFlush.length = 0;
      // Subtrees finished by now are stamped now: a worker killed later in a long pass does not
      // redo them (under frequent kills, end-of-pass marks were never reached).
      await this.stampClosed(all, stack, deferred, report);
    };
    // Before anything is applied (every batch, and the deletes at the end), the master must
    // still be sane: a mount lost or a root emptied while a long pass runs must not be mirrored.
    const stillSane = async (): Promise<HaltReason | null> =>
      (await this.master.safetyCheck()) ?? (everSynced && !(await hasEntries(this.master.root, (n) => n === '.gfid')) ? 'root_emptied' : null);
    while (stack.length > 0 || afterFlush.length > 0) {
      if (this.stopRequested) return report; // abandoned: nothing of it is marked
      if (stack.length === 0) {
        const halt = await stillSane();
        if (halt) return { ...report, halted: halt };
        await flushNow();
        continue;
      }
      const v = stack.pop()!;
      if (v.needsFlush && batch.size > 0) {
        afterFlush.push(v);
        continue;
      }
      all.push(v);
      const listed = ahead.get(v) ?? this.listBoth(v.dir);
      ahead.delete(v);
      const listings = await listed;
      batch.listedUntil = Date.now();
      const children = await this.visit(v, listings, batch, deferred, report, everSynced, verify);
      if (children === 'halt') return { ...report, halted: 'root_emptied' };
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
      if (batch.size >= this.cfg.batchMaxEntries || batch.dataBytes >= this.cfg.batchMaxBytes) {
        const halt = await stillSane();
        if (halt) return { ...report, halted: halt };
        await flushNow();
      }
      listAhead();
    }
    if (this.stopRequested) return report;
    const final = await stillSane();
    if (final) return { ...report, halted: final };
    if (batch.size > 0 || batch.visits.length > 0) await this.flush(batch, report);
    if (deferred.length > 0) {
      const late = await stillSane();
      if (late) return { ...report, halted: late };
    }
    await this.applyDeferredDeletes(deferred, report);
    if (report.massDelete) return report; // nothing of it is marked: the halt keeps it all
    const rootMark = await this.stampMarks(all, report);
    // A verification pass over a root whose mark was current already writes no mark: it is
    // complete when nothing of it failed.
    const verified = verify && rootMark === null && rootStime !== null && compareXtime(rootStime, rootX) === 0
      && report.failures.length === 0 && report.churn.length === 0 && !rootVisit.failed && !rootVisit.incomplete;
    return { ...report, rootMark, complete: verified || (rootMark !== null && compareXtime(rootMark, rootX) === 0) };
  }

  /** Linked files of this pass whose every name is not confirmed on the slave (by the id map). */
  private openLinkGroups(): number {
    let open = 0;
    for (const [id, nlink] of this.passLinks) if (this.linkGroupOpen(id, nlink)) open++;
    return open;
  }

  /** Fewer of the file's names than its master link count are confirmed on the slave. */
  private linkGroupOpen(id: string, nlink: number): boolean {
    return this.ids.pathsOf(id).length < nlink;
  }

  private listBoth(dir: BytePath): Promise<Listings> {
    return Promise.all([this.master.list(dir), this.slave.list(dir, this.cfg.markKey)]);
  }

  /** Turn the difference of one directory's listings (both sides) into batch decisions. */
  private async visit(v: Visit, [masterList, slaveList]: Listings, batch: Batch, deferred: Deferred[], report: { dirsVisited: number; scanned: number; failures: string[] }, everSynced: boolean, verify: boolean): Promise<Visit[] | 'halt'> {
    report.dirsVisited++;
    if (!masterList) {
      // Gone on the master since its parent was listed (removed, renamed, or replaced). Only it
      // stays unmarked: its removal moved the xtimes of its parent and every ancestor past the
      // values read before their listings, so the marks they get now still bring the next pass
      // back here. Failing them too kept the root unmarked under steady churn, and synced-up-to
      // with it.
      v.incomplete = true;
      return [];
    }
    if (v.dir === '' && rootEmptiedHalt(masterList.length, slaveList?.length ?? 0, everSynced)) return 'halt';
    report.scanned += masterList.length;
    this.events.onScanned?.(masterList.length);
    v.entries = masterList;
    batch.visits.push(v);
    const diff = diffDirectory(v.dir, masterList, slaveList, v.stime, verify);
    const attrOnly = await this.attributeOnlyChanges(v, diff, masterList);
    for (const m of diff.markAhead) {
      this.log.error({ dir: displayPath(joinRel(v.dir, m.name)) }, 'slave mark is newer than the master xtime: resyncing this directory');
    }
    const d = batch.decisions;
    const own = (p: BytePath) => { batch.owner.set(p, v); v.changed = true; };
    const missingNames = new Set(diff.missing.map((m) => m.name));
    // Names that vanished on the master while this directory was listed (a rename in progress,
    // most likely: its new name may not be in this listing yet). They are kept on the slave for
    // now: the change came after the xtime read before the listing, so the next pass revisits
    // this directory and then either moves them (rename) or deletes them.
    const vanished = vanishedNames(masterList);
    for (const s of diff.extra) {
      const path = joinRel(v.dir, s.name);
      this.slaveExtras.set(path, s);
      if (vanished?.has(s.name) && !missingNames.has(s.name)) continue;
      if (missingNames.has(s.name)) {
        d.deletes.push({ path, type: s.type }); // type swap: the name is reused right away
        own(path);
      } else if (!this.cfg.ignoreDeletes) {
        deferred.push({ path, type: s.type, owner: v }); // might still be a rename source
        this.deferredDirs.add(v.dir);
      }
    }
    const children: Visit[] = [];
    for (const m of diff.missing) {
      const path = joinRel(v.dir, m.name);
      own(path);
      batch.created.push(path);
      const renamedFrom = await this.resolveExisting(m, path, batch, v.dir, masterList);
      if (m.type === 'dir') {
        if (!renamedFrom) {
        d.mkdirs.push({ path, entry: m });
        d.dirAttrs.push({ path, entry: m }); // its mtime is set even if it stays empty
      }
        children.push(this.child(v, m, !!renamedFrom));
      }
    }
    if (attrOnly) {
      // The directory's own attributes may be what changed: they are set again at the flush.
      v.changed = true;
      for (const m of attrOnly) {
        const path = joinRel(v.dir, m.name);
        own(path);
        this.addData(batch, path, m); // rsync's quick check: attributes only
      }
    }
    for (const m of diff.changed) {
      const path = joinRel(v.dir, m.name);
      own(path);
      const was = this.ids.idAt(path);
      if (m.type === 'file' && was !== undefined && was !== m.id) {
        // Another object took this name (a swap, a rename over it). The slave's inode here is
        // the old object's, maybe shared with that object's other names: never write into it.
        if (this.ids.pathsOf(m.id).some((p) => p !== path) || batch.sentIds.has(m.id)) {
          // The new object is known elsewhere: replace the name by a rename or link of it.
          d.deletes.push({ path, type: 'file' });
          await this.resolveExisting(m, path, batch, v.dir, masterList);
        } else {
          // A new object (an editor's save: write a copy, rename it over): a fresh inode, with
          // the old content as rsync's delta basis.
          d.data.push({ path, size: m.size, inplace: false });
          batch.dataBytes += m.size;
          batch.sentIds.set(m.id, path);
        }
        continue;
      }
      this.addData(batch, path, m);
    }
    // A link group the slave holds as separate copies (broken before the id map knew all its
    // names): the others follow this name, whose copy is current or made current (in place)
    // by this batch before the relinks run.
    if (slaveList && masterList.some((m) => m.type === 'file' && m.nlink > 1)) {
      const slaveLinks = new Map(slaveList.map((s) => [s.name, s]));
      const handled = new Set(diff.missing.map((m) => m.name));
      for (const m of masterList) {
        if (m.type !== 'file' || m.nlink <= 1 || handled.has(m.name)) continue;
        const s = slaveLinks.get(m.name);
        if (s?.type !== 'file' || (s.nlink ?? 1) >= m.nlink) continue;
        const path = joinRel(v.dir, m.name);
        batch.linkCandidates.set(m.id, m.nlink);
        const first = batch.sentIds.get(m.id);
        if (first !== undefined) {
          // Another name of it is sent or joined by this batch: this one follows it.
          if (first !== path) batch.relinks.push({ existing: first, path, id: m.id });
          continue;
        }
        await this.relinkPartners(batch, m, path);
        batch.sentIds.set(m.id, path); // its other new names link to this one
      }
    }
    for (const m of diff.dirAttrs) {
      // Setting a subdirectory's attributes leaves this directory's own times alone: it owns the
      // op (its failure is this visit's) but is not changed by it. Except the root: no listing
      // compares its own attributes, so they are set again whenever it has work, this included.
      const path = joinRel(v.dir, m.name);
      if (v.parent === null) own(path);
      else batch.owner.set(path, v);
      d.dirAttrs.push({ path, entry: m });
    }
    for (const { entry, stime } of diff.descend) children.push(this.child(v, entry, false, stime));
    return children;
  }

  /**
   * A directory whose xtime moved although its listing shows no change and no subdirectory
   * accounts for it: something changed that a stat does not show, an extended attribute or ACL
   * of one of its files (or of itself). Sources that cannot tell by the change time (GlusterFS
   * keeps ctime still on setxattr) answer with per-entry xtimes, read only in this case.
   */
  private async attributeOnlyChanges(v: Visit, diff: DirDiff, listing: readonly MasterEntry[]): Promise<MasterEntry[] | null> {
    const { stime, xtime } = v;
    if (!this.master.entryXtimes || !stime || stime.sec < 0 || !xtime || !xtimeNewer(xtime, stime)) return null;
    if (diff.missing.length || diff.extra.length || diff.changed.length || diff.dirAttrs.length) return null;
    if (diff.descend.some((c) => !c.entry.xtime || !xtimeNewer(xtime, c.entry.xtime))) return null;
    const files = listing.filter((e) => e.type === 'file');
    const xtimes = await this.master.entryXtimes(v.dir, files.map((e) => e.name));
    return files.filter((e) => { const x = xtimes.get(e.name); return !!x && xtimeNewer(x, stime); });
  }

  private child(parent: Visit, m: MasterEntry, needsFlush: boolean, stime: Xtime | null = null): Visit {
    return { dir: joinRel(parent.dir, m.name), xtime: m.xtime ?? null, stime, entry: m, parent, needsFlush, entries: null, changed: false, failed: false, incomplete: false, flushed: false, marked: false };
  }

  /**
   * A master entry the slave lacks under this name may be an object the slave already holds
   * elsewhere: moved (rename it there) or given another name (hard link). Returns the rename source.
   */
  private async resolveExisting(m: MasterEntry, path: BytePath, batch: Batch, dir: BytePath, listing: readonly MasterEntry[]): Promise<BytePath | null> {
    const d = batch.decisions;
    // A symlink (or fifo, device) carries no data: created afresh, never renamed or linked. That
    // also sidesteps hard links to symlinks, which rsync would otherwise have to recreate.
    if (m.type !== 'file' && m.type !== 'dir') {
      this.addData(batch, path, m);
      return null;
    }
    let byName: Map<BytePath, MasterEntry> | undefined;
    for (const p of this.ids.pathsOf(m.id)) {
      if (p === path || batch.renamed.has(p)) continue;
      // Is the old name still this object on the master? A name in the directory being visited
      // is answered by its listing (read just now); elsewhere by a lookup.
      let now: MasterEntry | null;
      if (parentOf(p) === dir) {
        byName ??= new Map(listing.map((e) => [joinRel(dir, e.name), e]));
        now = byName.get(p) ?? null;
      } else {
        now = await this.master.lookup(p);
      }
      if (now && now.id === m.id) {
        if (m.type === 'dir') continue; // a directory has one name; that one is still in place
        d.links.push({ existing: p, path });
        if (m.nlink > 1) this.addData(batch, path, m); // content may have changed too; in place keeps the link
        return null;
      }
      d.renames.push({ from: p, to: path });
      batch.renamed.add(p);
      batch.touchedDirs.add(parentOf(p));
      // Quick check by rsync (~0 bytes when unchanged), unless the slave's copy, as listed in
      // this pass, already matches the master's size, mtime, mode and owner: then rsync would
      // do nothing. If the rename fails (source gone), the data is sent after all (see flush).
      const old = this.slaveExtras.get(p);
      this.slaveExtras.delete(p);
      const inSync = m.type === 'file' && old?.type === 'file' && !dataDiffers(m, old) && !attrsDiffer(m, old);
      if (m.type !== 'dir' && !inSync) this.addData(batch, path, m);
      // Further new names of this object in the batch link to the renamed one, not get a copy.
      if (m.type === 'file') batch.sentIds.set(m.id, path);
      return p;
    }
    if (m.type === 'dir') return null;
    // Another new name of an object this batch already sends: a hard link. Decided by identity,
    // not by the link count, which a FUSE listing may report stale.
    const first = m.type === 'file' ? batch.sentIds.get(m.id) : undefined;
    if (first !== undefined) {
      d.postLinks.push({ existing: first, path });
      return null;
    }
    this.addData(batch, path, m);
    if (m.type === 'file') {
      batch.sentIds.set(m.id, path);
      // A copy: its other names, if any, are not known to be on the slave.
      if (m.nlink > 1) batch.linkCandidates.set(m.id, m.nlink);
    }
    return null;
  }

  /**
   * Names of a linked file the slave may hold as separate copies (the group split while the id
   * map did not know all of them: forgotten as in doubt after a kill, or not yet confirmed)
   * become links of `path` once its data is sent. The partners are the names the id map knows
   * and the master still has for this object. (GlusterFS can name every link of a file, the
   * `glusterfs.gfidtopath` virtual xattr, but asking it while names are being renamed crashed
   * the brick here, GlusterFS 10.3: never used.)
   */
  private async relinkPartners(batch: Batch, m: MasterEntry, path: BytePath): Promise<void> {
    for (const p of [...this.ids.pathsOf(m.id)]) {
      if (p === path || batch.renamed.has(p) || batch.relinks.some((r) => r.path === p && r.existing === path)) continue;
      const now = await this.master.lookup(p);
      if (now?.id === m.id) batch.relinks.push({ existing: path, path: p, id: m.id });
    }
  }

  private addData(batch: Batch, path: BytePath, m: MasterEntry): void {
    // In place keeps a hard link on the slave intact (rsync would otherwise replace the inode).
    // Known link groups count too: a FUSE listing may report a stale link count.
    const linked = m.type === 'file' && (m.nlink > 1 || this.ids.pathsOf(m.id).length > 1);
    batch.decisions.data.push({ path, size: m.type === 'file' ? m.size : 0, inplace: linked });
    batch.dataBytes += m.type === 'file' ? m.size : 0;
  }

  /** Apply one batch: entry ops, data, links and directory attributes; record what failed. */
  private async flush(batch: Batch, report: { entryOps: number; dataFiles: number; bytesSent: number; failures: string[]; churn: string[] }): Promise<void> {
    const started = Date.now();
    const tag = `${process.pid.toString(36)}${(++this.batchSeq).toString(36)}`;
    const d = batch.decisions;
    for (const v of batch.visits) if (v.changed && v.entry) d.dirAttrs.push({ path: v.dir, entry: v.entry });
    for (const dir of batch.touchedDirs) {
      const e = await this.master.lookup(dir);
      if (e && e.type === 'dir') d.dirAttrs.push({ path: dir, entry: e });
    }
    d.dirAttrs = dedupeByPath(d.dirAttrs);
    // A directory whose extra names are deleted at the end of the pass has its times set again
    // after those deletes: setting them now too only cost an rsync run (~0.3 s over ssh) before
    // the deletes could start.
    d.dirAttrs = d.dirAttrs.filter((x) => {
      if (!this.deferredDirs.has(x.path)) return true;
      this.attrsAfterDeletes.add(x.path);
      return false;
    });
    const plan = planBatch(d, tag);
    let failures = 0;
    const fail = (path: BytePath, why: string, errno?: string) => {
      failures++;
      (errno === 'ENOENT' ? report.churn : report.failures).push(`${displayPath(path)}: ${why}`);
      const owner = batch.owner.get(path) ?? batch.visits.find((v) => v.dir === parentOf(path));
      if (owner) owner.failed = true;
      else for (const v of batch.visits) v.failed = true; // cannot attribute it: trust nothing
    };
    const before = await this.applyOps(plan.before);
    const resend: DataItem[] = [];
    /** Files sent as copies after a link failed: their other names are linked to them (relinkPartners). */
    const copies: [MasterEntry, BytePath][] = [];
    before.forEach(([op, r]) => {
      if (r.ok) {
        if (op.op === 'rename' && !op.from.startsWith('.gsyncd-rename-')) this.movedAway.add(op.from);
        return;
      }
      // A rename/link source that is gone (stale id map) falls back to sending the data.
      if ((op.op === 'rename' || op.op === 'link') && r.errno === 'ENOENT') {
        const target = op.op === 'rename' ? op.to : op.path;
        const src = op.op === 'rename' ? op.from : op.existing;
        this.ids.delete(src);
        if (!target.includes('.gsyncd-rename-')) {
          const m = listedAt(batch, target);
          if (m && m.type !== 'dir') {
            resend.push({ path: target, size: m.size, inplace: false });
            if (m.type === 'file' && m.nlink > 1) copies.push([m, target]);
            return;
          }
          if (m) { fail(target, 'renamed directory source vanished; recreating next pass', 'ENOENT'); return; }
        }
        return; // a parked name: the second half of the rename reports it
      }
      fail(opTarget(op), r.message, r.errno);
    });
    const data = [...plan.data, ...resend].filter((x) => !batch.owner.get(x.path)?.failed);
    const root = await this.dataRoot(batch, data.length);
    // The data's rsync runs take the directories' attributes along (see dirsAlongRuns): a run of
    // its own cost 0.4-0.5 s over ssh, most of a small change's latency, and several seconds for
    // a batch of new directories. Not when ops after the data (links, relinks) change directories
    // again. The read mount is as fresh for a directory's attributes as for the data it reads
    // (settled since the listings), and the root goes in a run of its own (syncDirAttrs).
    const attrsAlong = plan.after.length === 0 && batch.relinks.length === 0 && copies.length === 0
      ? plan.dirs.filter((p) => p !== '.') : [];
    const sent = await this.sendData(data, root, this.cfg.syncJobs, attrsAlong);
    let bytesSent = sent.bytesSent;
    for (const [path, why, errno] of sent.failed) fail(path, why, errno);
    const after = await this.applyOps(plan.after);
    // A new name linked to a file this batch sent, which vanished on the master meanwhile (rsync
    // skipped it): the name gets its own copy now; a later pass links it again where the object went.
    const orphans: DataItem[] = [];
    for (const [op, r] of after) {
      if (r.ok) continue;
      if (op.op === 'link' && r.errno === 'ENOENT' && !batch.owner.get(op.path)?.failed) {
        const m = listedAt(batch, op.path);
        if (m && m.type === 'file') {
          orphans.push({ path: op.path, size: m.size, inplace: false });
          if (m.nlink > 1) copies.push([m, op.path]);
          continue;
        }
      }
      fail(opTarget(op), r.message, r.errno);
    }
    if (orphans.length > 0) {
      const second = await this.sendData(orphans, await this.dataRoot(batch, orphans.length));
      for (const [path, why, errno] of second.failed) fail(path, why, errno);
      bytesSent += second.bytesSent;
    }
    for (const [m, path] of copies) {
      batch.linkCandidates.set(m.id, m.nlink);
      await this.relinkPartners(batch, m, path);
    }
    await this.applyRelinks(batch, plan.dirs);
    const along = new Set(attrsAlong);
    const dirsLeft = [...plan.dirs.filter((p) => !along.has(p)), ...sent.dirsLeft];
    for (const [path, why, errno] of await this.syncDirAttrs(dirsLeft)) fail(path, why, errno);

    // Confirmed: the id map and the master's tracker learn what the slave now holds. Moved
    // names are forgotten first: a name can be a rename source and hold another object now
    // (a swap), which the listings below record again.
    this.ids.deleteSubtrees(d.renames.filter((r) => { const owner = batch.owner.get(r.to); return owner && !owner.failed; }).map((r) => r.from));
    // Names an op of a failed directory may or may not have changed: in doubt, forgotten.
    const doubtful = [...before, ...after].filter(([op, r]) => !r.ok || batch.owner.get(opTarget(op))?.failed !== false);
    this.ids.deleteSubtrees(doubtful.flatMap(([op]) => (op.op === 'link' ? [op.path] : opPaths(op))));
    for (const v of batch.visits) {
      if (v.failed || !v.entries) continue;
      for (const e of v.entries) this.ids.set(joinRel(v.dir, e.name), e.id);
      this.master.confirmDir(v.dir, v.entries);
    }
    for (const v of batch.visits) { v.entries = null; v.flushed = true; } // entries: keep memory flat on huge trees
    this.guard.noteCreated(batch.created, Date.now());
    for (const [id, nlink] of batch.linkCandidates) this.passLinks.set(id, nlink);
    // Recorded before this batch's directories are marked: a worker killed before the groups are
    // joined must still verify (those directories may never change again).
    if ([...batch.linkCandidates].some(([id, nlink]) => this.linkGroupOpen(id, nlink))) this.events.onLinkDebt?.();
    // Saved after every batch: a worker killed later loses no knowledge of renames and links
    // it confirmed, and only the names of the batch in flight are in doubt (see idsStale).
    this.persistIds();
    const entryOps = plan.before.length + plan.after.length;
    report.entryOps += entryOps;
    report.dataFiles += data.length;
    report.bytesSent += bytesSent;
    const summary: BatchSummary = { entryOps, dataFiles: data.length, dataBytes: batch.dataBytes, bytesSent, failures, durationMs: Date.now() - started };
    this.log.info(summary, failures ? 'batch done with failures' : 'batch done');
    this.events.onBatch?.(summary);
  }

  /**
   * Link groups made whole (relinkPartners), after the data they link to was sent. A repair
   * only: one that fails (the data vanished, the other name's directory is not on the slave
   * yet) leaves that name as it was, and the directories' fate to their own ops.
   */
  private async applyRelinks(batch: Batch, dirsSynced: readonly BytePath[]): Promise<void> {
    const relinks = batch.relinks.filter((r) => !batch.owner.get(r.existing)?.failed && !batch.owner.get(r.path)?.failed);
    const ops = relinks.map((r): EntryOp => ({ op: 'link', existing: r.existing, path: r.path }));
    if (ops.length === 0) return;
    const results = await this.applyOps(ops);
    // The slave now holds this object at those names, whatever the id map knew of them: a name
    // it still ascribed to a former object would later be moved away as that object's rename
    // source, taking the link with it (seen in the soak: a linked name missing on the slave).
    // One that failed leaves a copy there: forgotten, so that its group stays open (linkDebt).
    results.forEach(([, r], i) => { if (r.ok) this.ids.set(relinks[i]!.path, relinks[i]!.id); else this.ids.delete(relinks[i]!.path); });
    const done = results.filter(([, r]) => r.ok && !r.noop);
    const already = results.filter(([, r]) => r.ok && r.noop).length;
    if (done.length === 0 && already === ops.length) return;
    this.log.info({ relinked: done.length, already, failed: ops.length - done.length - already, sample: results.filter(([, r]) => !r.ok).slice(0, 3).map(([op, r]) => `${displayPath(opTarget(op))}: ${r.ok ? '' : r.message}`) },
      'hard-link groups made whole on the slave');
    // A relink changed its directory's times on the slave, maybe in a directory already synced
    // that no pass revisits: its times are set from the master again (a failure is no failure
    // of this batch; such a directory is not this batch's to confirm).
    const synced = new Set(dirsSynced);
    const dirs = [...new Set(done.map(([op]) => parentOf(opTarget(op))))].map((p) => (p === '' ? '.' : p)).filter((p) => !synced.has(p));
    const failed = await this.syncDirAttrs(dirs);
    if (failed.length > 0) this.log.debug({ dirs: failed.map(([p]) => displayPath(p)) }, 'times of relinked directories not set');
  }

  private async applyOps(ops: EntryOp[]): Promise<[EntryOp, OpResult][]> {
    if (ops.length === 0) return [];
    const moving = ops.filter((op) => op.op !== 'mark' && op.op !== 'setattr');
    if (moving.length > 0) this.idsStale(moving);
    const results = await this.slave.apply(ops, this.cfg.markKey);
    this.events.onEntryOps?.(ops, results);
    this.log.trace?.({ ops: ops.map((op, i) => `${op.op} ${opPaths(op).map(displayPath).join(' -> ')}${results[i]?.ok ? '' : ` (${results[i]?.ok === false ? results[i]!.errno : 'no result'})`}`) }, 'entry ops applied');
    return ops.map((op, i) => [op, results[i] ?? { ok: false, errno: 'EIO', message: 'no result from slave' }]);
  }

  /**
   * Where rsync reads a batch's data: the master's read mount (cached, far fewer round trips)
   * once it has settled since the batch's last listing, so that every change the listings saw
   * (and the marks will cover) is visible through its caches; else the uncached root. A small
   * batch does not wait for it.
   */
  private async dataRoot(batch: Batch, files: number): Promise<string> {
    const reader = files > 0 ? await this.master.readMount?.() : null;
    if (!reader) return this.master.root;
    const wait = batch.listedUntil + reader.settleMs - Date.now();
    if (wait > 0) {
      if (files < READ_MOUNT_MIN_FILES) return this.master.root;
      await this.sleepUnlessStopped(wait);
    }
    return reader.root;
  }

  /**
   * rsync the data in up to sync-jobs parallel runs, split by bytes, reading from `root`. A run
   * that fails is retried with backoff, from the uncached root; what still fails is reported per
   * path and never marked synced.
   */
  private async sendData(items: DataItem[], root: string, parallel = this.cfg.syncJobs, dirsAlong: readonly BytePath[] = []): Promise<{ bytesSent: number; failed: PathFailure[]; dirsLeft: BytePath[] }> {
    if (items.length === 0) return { bytesSent: 0, failed: [], dirsLeft: [...dirsAlong] };
    const chunks = splitForJobs(items.filter((i) => !i.inplace), parallel, (i) => parentOf(i.path));
    const inplace = items.filter((i) => i.inplace);
    const jobs = chunks.map((c) => ({ paths: c.map((i) => i.path), inplace: false }));
    if (inplace.length) jobs.push({ paths: inplace.map((i) => i.path), inplace: true });
    // A directory's attributes ride along with the one run that writes into it: set by one of
    // several, its times could be disturbed by another one still writing there.
    const { along, left } = dirsAlongRuns(jobs.map((j) => j.paths), dirsAlong);
    jobs.forEach((j, k) => j.paths.push(...along[k]!));
    let bytesSent = 0;
    const failed: PathFailure[] = [];
    await Promise.all(jobs.map(async (job) => {
      const cfg = job.inplace ? { ...this.cfg.rsync, extraOptions: [...this.cfg.rsync.extraOptions, '--inplace'] } : this.cfg.rsync;
      let run: RsyncRun | null = null;
      for (let attempt = 0; attempt <= this.cfg.maxRsyncRetries; attempt++) {
        if (attempt > 0) await this.sleepUnlessStopped(this.cfg.retryDelayMs(attempt));
        if (attempt > 0 && this.stopRequested) break;
        // A retry reads from the uncached root: a failing read mount must not fail the batch.
        const from = attempt === 0 ? root : this.master.root;
        run = await runRsync(cfg, from, this.slave.rsyncTarget(), job.paths);
        this.log.debug({ files: job.paths.length, exitCode: run.exitCode, bytesSent: run.bytesSent, ms: run.durationMs, inplace: job.inplace }, 'rsync run');
        this.events.onRsync?.(run);
        bytesSent += run.bytesSent;
        if (rsyncSucceeded(run.result)) break;
        const level = attempt === this.cfg.maxRsyncRetries ? 'error' : 'warn';
        this.log[level]({ exitCode: run.exitCode, result: run.result, attempt: attempt + 1, files: job.paths.length, stderr: run.stderr.slice(0, 4000) }, 'rsync failed');
      }
      if (run && run.result === 'vanished') {
        // Not transferred: what holds them stays unmarked (churn, redone without backing off).
        const gone = (!run.stderrCut && vanishedPathsOf(run.stderr, job.paths, [root, this.master.root])) || job.paths;
        for (const p of gone) failed.push([p, 'vanished on the master during the transfer', 'ENOENT']);
        this.log.info({ vanished: [...gone].length, stderr: run.stderr.slice(0, 2000) }, 'some files vanished on the master during transfer; their directories are revisited');
      }
      if (run && !rsyncSucceeded(run.result)) {
        const why = `rsync exit ${run.exitCode} (${run.result})`;
        const pinned = run.result === 'partial' && !run.stderrCut ? failedPathsOf(run.stderr, job.paths, [root, this.master.root, destPath(this.slave.rsyncTarget().dest)]) : null;
        for (const p of pinned ?? job.paths) failed.push([p, why, undefined]);
      }
    }));
    return { bytesSent, failed, dirsLeft: left };
  }

  /**
   * Set directories' mode, owner and times from the master (rsync: nanosecond times). The root
   * goes in a run of its own that excludes its children: with -d, rsync copies the contents of a
   * listed "." (one level, not in place, which would break hard links). Returns failed dirs ('' = root).
   */
  private async syncDirAttrs(dirs: BytePath[]): Promise<PathFailure[]> {
    const others = dirs.filter((p) => p !== '.');
    const failed = (await this.sendData(others.map((p) => ({ path: p, size: 0, inplace: false })), this.master.root, 1)).failed;
    if (dirs.includes('.')) {
      const cfg = { ...this.cfg.rsync, extraOptions: [...this.cfg.rsync.extraOptions, '--exclude=/*'] };
      const run = await runRsync(cfg, this.master.root, this.slave.rsyncTarget(), ['.']);
      this.events.onRsync?.(run);
      if (!rsyncSucceeded(run.result)) failed.push(['', `rsync exit ${run.exitCode} (${run.result}) setting the root's attributes`, undefined]);
    }
    return failed;
  }

  private async sleepUnlessStopped(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!this.stopRequested && Date.now() < until) await new Promise((r) => setTimeout(r, Math.min(100, until - Date.now())));
  }

  private async applyDeferredDeletes(deferred: Deferred[], report: { entryOps: number; failures: string[]; churn: string[]; heldDeletes: number; massDelete: Trip | null }): Promise<void> {
    // Directories whose attributes a batch left to this step (see flush), deletes or not.
    const parents = new Map<BytePath, Visit>();
    for (const x of deferred) if (this.attrsAfterDeletes.has(x.owner.dir)) parents.set(x.owner.dir, x.owner);
    // A name a rename of this pass already moved away is not there any more (nothing of this
    // pass puts anything at a name the master lacks): no delete needed.
    deferred = deferred.filter((x) => !this.movedAway.has(x.path));
    // The guard: held deletes keep their directories unmarked, so the next pass decides again.
    const now = Date.now();
    const fresh = this.guard.reconcile(deferred, now);
    if (this.guard.enabled) {
      const budget = Math.max(this.cfg.deletes.maxDelete, 1) + 1;
      for (const c of fresh) if (c.type === 'dir') this.guard.setCount(c.path, await this.countSlaveSubtree(c.path, budget, now));
    }
    const decision = this.guard.decide(now, this.ids.size, this.deletesConfirmed);
    if (decision.trip) report.massDelete = decision.trip;
    const due = new Set(decision.apply);
    for (const x of deferred) {
      if (due.has(x.path)) continue;
      report.heldDeletes++;
      x.owner.failed = true; // its old mark stays: revisited, and nothing above claims past it
    }
    if (report.heldDeletes > 0 && !decision.trip) this.log.debug({ held: report.heldDeletes, due: due.size }, 'deletes held until removals on the master are quiet (--delete-delay)');
    deferred = deferred.filter((x) => due.has(x.path));
    const ops: EntryOp[] = deferred.map((x) => ({ op: 'delete', path: x.path, type: x.type }));
    const results = await this.applyOps(ops);
    report.entryOps += ops.length;
    const gone: BytePath[] = [];
    results.forEach(([op, r], i) => {
      const owner = deferred[i]!.owner;
      if (r.ok) {
        gone.push(opTarget(op));
        return;
      }
      report.failures.push(r.message);
      owner.failed = true;
    });
    this.ids.deleteSubtrees(gone);
    this.guard.recordApplied(gone, Date.now());
    // Their parents' mtimes moved: set them back to the master's.
    for (const x of deferred) parents.set(x.owner.dir, x.owner);
    if (parents.size === 0) return;
    for (const [p, why, errno] of await this.syncDirAttrs([...parents.keys()].map((p) => (p === '' ? '.' : p)))) {
      (errno === 'ENOENT' ? report.churn : report.failures).push(`${displayPath(p)}: ${why}`);
      const v = parents.get(p);
      if (v) v.failed = true;
    }
  }

  /**
   * Entries on the slave at and below `dir` (and how many of them the slave has held longer than
   * the guard's window), counted up to `budget`: enough to tell whether a limit is crossed.
   */
  private async countSlaveSubtree(dir: BytePath, budget: number, now: number): Promise<SubtreeCount> {
    let total = 1;
    let established = this.guard.isYoung(dir, now) ? 0 : 1;
    const queue = [dir];
    while (queue.length > 0 && total < budget) {
      const d = queue.shift()!;
      const list = await this.slave.list(d, this.cfg.markKey).catch(() => null);
      for (const e of list ?? []) {
        const p = joinRel(d, e.name);
        total++;
        if (!this.guard.isYoung(p, now)) established++;
        if (e.type === 'dir') queue.push(p);
      }
    }
    return { total, established };
  }

  /** Stamp the visited directories whose subtrees are closed (see closedVisits), deepest first. */
  private async stampClosed(all: Visit[], pending: readonly Visit[], deferred: readonly Deferred[], report: { failures: string[] }): Promise<void> {
    const closed = closedVisits(all, pending, deferred);
    this.log.debug({ visited: all.length, pending: pending.length, closed: closed.size }, 'closed subtrees');
    if (closed.size === 0) return;
    const marks = [...marksToWrite(all)].filter(([v]) => closed.has(v));
    for (const v of closed) v.marked = true; // final either way: nothing below them changes in this pass
    if (marks.length === 0) return;
    await this.master.flush();
    await this.writeMarks(marks, report);
  }

  /**
   * Stamp every confirmed visited directory with the xtime read before its listing, capped by
   * the old mark of any failed directory below it (core/marks.ts), deepest first, so a parent's
   * mark never claims more than its children's. Returns the root's new mark, if it got one.
   */
  private async stampMarks(all: Visit[], report: { failures: string[] }): Promise<Xtime | null> {
    this.persistIds();
    await this.master.flush();
    return this.writeMarks([...marksToWrite(all)].filter(([v]) => !v.marked), report);
  }

  /** Write marks deepest first; returns the root's, if it was among them and written. */
  private async writeMarks(marks: [Visit, Xtime][], report: { failures: string[] }): Promise<Xtime | null> {
    marks.sort(([a], [b]) => depth(b) - depth(a));
    const results = await this.applyOps(marks.map(([v, xtime]) => ({ op: 'mark', path: v.dir, xtime })));
    let rootMark: Xtime | null = null;
    results.forEach(([op, r]) => {
      // ENOENT: a later batch of this pass renamed or removed that directory on the slave (the
      // master did so meanwhile); its new place is revisited, nothing failed.
      if (!r.ok) { if (r.errno !== 'ENOENT') report.failures.push(r.message); }
      else if (op.op === 'mark' && op.path === '') rootMark = op.xtime;
    });
    return rootMark;
  }
}

/** A path that failed, why, and the errno when one applies (ENOENT: churn). */
type PathFailure = [path: BytePath, why: string, errno: string | undefined];

/** The master entry a visit of this batch listed at `path` (its owner's listing). */
function listedAt(batch: Batch, path: BytePath): MasterEntry | undefined {
  const owner = batch.owner.get(path);
  return owner?.entries?.find((e) => joinRel(owner.dir, e.name) === path);
}

/**
 * Visited directories whose whole subtree is done: applied, nothing of it still to visit (on the
 * stack), and no deferred delete in it (those run at the end of the pass).
 */
function closedVisits(all: readonly Visit[], pending: readonly Visit[], deferred: readonly Deferred[]): Set<Visit> {
  const blocked = new Set<Visit>();
  const block = (v: Visit) => { for (let p: Visit | null = v; p && !blocked.has(p); p = p.parent) blocked.add(p); };
  for (const v of pending) block(v);
  for (const x of deferred) block(x.owner);
  for (const v of all) if (!v.flushed && !v.incomplete) block(v);
  // The root is the pass's own result: stamped at its end, after the last batch and the deletes.
  return new Set(all.filter((v) => v.parent !== null && v.flushed && !v.marked && !blocked.has(v)));
}

function opTarget(op: EntryOp): BytePath {
  return op.op === 'rename' ? op.to : op.path;
}

function depth(v: Visit): number {
  let n = 0;
  for (let p = v.parent; p; p = p.parent) n++;
  return n;
}

function dedupeByPath<T extends { path: BytePath }>(items: T[]): T[] {
  const byPath = new Map<BytePath, T>();
  for (const i of items) byPath.set(i.path, i);
  return [...byPath.values()];
}

/** Vanished files (24) changed on the master after listing: a later pass sees that change. */
function rsyncSucceeded(r: RsyncResult): boolean {
  return r === 'ok' || r === 'vanished';
}

export type { SlaveEntry };
