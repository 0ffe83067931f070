// One sync pass: descend from the root into directories whose master xtime is newer than their
// slave mark, compare listings, apply entry ops and data in bounded batches, and only when the
// slave confirmed everything below a directory stamp it with the xtime read *before* its listing.
// A crash at any point leaves marks stale, so the next pass revisits exactly what is unconfirmed.
//
// The pass itself lives here (scheduling: which directory next, when a batch is flushed, when the
// master is checked again); its parts are engine-visit (planning), engine-flush and
// engine-transfer (applying), engine-deletes (the guard) and engine-marks (stamping).
import { DeleteGuard, type Trip } from '../core/delete-guard.js';
import type { SlaveEntry } from '../core/entry.js';
import type { IdMap } from '../core/id-map.js';
import type { EntryOp } from '../core/ops.js';
import { openLinkGroups } from '../core/renames-links.js';
import type { HaltReason } from '../core/safety.js';
import { compareXtime, formatXtime, URXTIME, xtimeNewer, type Xtime } from '../core/xtime.js';
import { hasEntries } from '../fs/tree.js';
import type { EngineLog } from '../log/logger.js';
import type { SlaveEndpoint } from '../protocol/endpoint.js';
import type { EngineConfig, EngineEvents, PassOptions, PassReport } from './engine-contract.js';
import { applyDeferredDeletes } from './engine-deletes.js';
import { flush } from './engine-flush.js';
import { FlushPipeline, waitsForFlight } from './engine-pipeline.js';
import { stampClosed, stampMarks } from './engine-marks.js';
import { Batch, listBoth, type Deferred, type EngineContext, type Listings, type Visit } from './engine-state.js';
import { visit } from './engine-visit.js';
import type { MasterSource } from './source.js';

export type { BatchSummary, EngineConfig, EngineEvents, PassOptions, PassReport } from './engine-contract.js';

/** Directories listed ahead of their visit (both sides), to overlap FUSE round trips. */
const PREFETCH_DIRS = 6;
/**
 * Fresh directories listed ahead: a fresh listing waits a settle after its xtime was read (see
 * GlusterSource.list), so many overlap their waits; nothing on the slave side is read for them.
 */
const PREFETCH_FRESH_DIRS = 48;

export class SyncEngine {
  private readonly ctx: EngineContext;

  constructor(
    master: MasterSource,
    slave: SlaveEndpoint,
    ids: IdMap,
    cfg: EngineConfig,
    log: EngineLog,
    events: EngineEvents = {},
    /** Persist the id map; called before marks are written. */
    persistIds: () => void = () => {},
    /** These ops are about to change the slave's names: the persisted id map may be wrong about them until persistIds. */
    idsStale: (ops: readonly EntryOp[]) => void = () => {},
  ) {
    this.ctx = {
      master, slave, ids, cfg, log, events, persistIds, idsStale, guard: new DeleteGuard(cfg.deletes),
      batchSeq: 0, stopRequested: false, deletesConfirmed: false,
      slaveExtras: new Map(), movedAway: new Set(), passLinks: new Map(), deferredDirs: new Set(), attrsAfterDeletes: new Set(),
    };
  }

  /** --resume-halted after a mass_delete halt: apply the held deletes (until a pass completes). */
  confirmDeletes(on: boolean): void {
    this.ctx.deletesConfirmed = on;
  }

  /** Stop at the next safe point: no new batch, no further retry; the pass stays unmarked. */
  requestStop(): void {
    this.ctx.stopRequested = true;
  }

  /**
   * One pass. `slaveRootMark` is the caller's knowledge of the slave root's mark (re-read by the
   * caller as often as it wants to notice an emptied or restored slave).
   */
  async pass(slaveRootMark: Xtime | null, everSynced: boolean, opts: PassOptions = {}): Promise<PassReport> {
    this.ctx.passLinks = new Map();
    const report = await this.runPass(slaveRootMark, everSynced, opts.verify === true);
    // Also when the pass ended early (halted, stopped): its batches may have marked copies.
    const linkDebt = openLinkGroups(this.ctx.passLinks, (id) => this.ctx.ids.pathsOf(id).length);
    if (linkDebt > 0) this.ctx.log.info({ groups: linkDebt }, 'hard-link groups that may be split on the slave: a verification pass will join them');
    return { ...report, linkDebt };
  }

  private async runPass(slaveRootMark: Xtime | null, everSynced: boolean, verify: boolean): Promise<PassReport> {
    const report = { idle: false, complete: false, rootXtime: null as Xtime | null, halted: null as HaltReason | null, dirsVisited: 0, scanned: 0, entryOps: 0, dataFiles: 0, bytesSent: 0, failures: [] as string[], churn: [] as string[], rootMark: null as Xtime | null, linkDebt: 0, heldDeletes: 0, massDelete: null as Trip | null };
    let rootX: Xtime | null;
    try {
      rootX = await this.ctx.master.rootXtime();
    } catch (err) {
      const halt = await this.ctx.master.safetyCheck(); // a lost mount is a halt, not a failed pass
      if (halt) return { ...report, halted: halt };
      throw err;
    }
    const mark = slaveRootMark ?? URXTIME;
    const idle = rootX !== null && compareXtime(mark, rootX) === 0 && !verify;
    const early = await this.ctx.master.safetyCheck({ afterRootXtime: idle });
    if (early) return { ...report, halted: early };
    report.rootXtime = rootX;
    if (!rootX) {
      this.ctx.log.warn({}, 'master has no xtime yet (is geo-replication.indexing on?): waiting');
      return report;
    }
    if (idle) return { ...report, idle: true, complete: true };
    this.ctx.events.onBusy?.();
    if (xtimeNewer(mark, rootX)) {
      this.ctx.log.error({ slaveMark: formatXtime(mark), masterXtime: formatXtime(rootX) },
        'slave root mark is newer than the master root xtime (timestamp corruption or a different master): resyncing the whole tree');
    }

    this.ctx.slaveExtras = new Map();
    this.ctx.movedAway = new Set();
    this.ctx.deferredDirs = new Set();
    this.ctx.attrsAfterDeletes = new Set();
    const rootStime = slaveRootMark && !xtimeNewer(slaveRootMark, rootX) ? slaveRootMark : null;
    const rootVisit: Visit = { dir: '', xtime: rootX, stime: rootStime, entry: await this.ctx.master.lookup(''), parent: null, needsFlush: false, fresh: false, entries: null, changed: false, failed: false, incomplete: false, flushed: false, marked: false };
    const all: Visit[] = [];
    const deferred: Deferred[] = [];
    const stack: Visit[] = [rootVisit];
    let batch = new Batch();
    // The batch being applied while the walk goes on. Only fresh directories (new on the slave
    // with everything below them: nothing to list there) are visited meanwhile; any other waits.
    const pipe = new FlushPipeline();
    // Listings of the next directories on the stack, started ahead of their visits. Dropped when
    // a flush starts: it changes the slave, so a slave listing read before it may be stale.
    const ahead = new Map<Visit, Promise<Listings>>();
    const listAhead = () => {
      for (let i = stack.length - 1, n = 0; i >= 0 && n < PREFETCH_FRESH_DIRS; i--, n++) {
        const next = stack[i]!;
        if (next.needsFlush) continue; // its slave side appears only after the flush
        if (!next.fresh && n >= PREFETCH_DIRS) continue;
        if (!next.fresh && pipe.busy) continue; // its slave side may be changing now
        if (ahead.has(next)) continue;
        const p = listBoth(this.ctx, next);
        p.catch(() => {}); // awaited (and its error raised) by the visit, if it comes to one
        ahead.set(next, p);
      }
    };
    // Renamed directories wait for the next flush instead of forcing one each: a busy master
    // renames many, and one flush per directory made catching up slower than the churn.
    const afterFlush: Visit[] = [];
    const flushNow = async () => {
      for (const v of [...ahead.keys()]) if (!v.fresh) ahead.delete(v);
      const applying = batch;
      batch = new Batch();
      const waiting = afterFlush.splice(0);
      await pipe.start(async () => {
        await flush(this.ctx, applying, report);
        for (const w of waiting) w.needsFlush = false;
        // Subtrees finished by now are stamped now: a worker killed later in a long pass does
        // not redo them (under frequent kills, end-of-pass marks were never reached).
        await stampClosed(this.ctx, all, [...stack, ...afterFlush, ...waiting], deferred, report);
      });
      if (waiting.length === 0) return;
      await pipe.settle(); // renamed directories are listed once their renames are applied
      stack.push(...waiting.reverse());
    };
    // Before anything is applied (every batch, and the deletes at the end), the master must
    // still be sane: a mount lost or a root emptied while a long pass runs must not be mirrored.
    const stillSane = async (): Promise<HaltReason | null> =>
      (await this.ctx.master.safetyCheck()) ?? (everSynced && !(await hasEntries(this.ctx.master.root, (n) => n === '.gfid')) ? 'root_emptied' : null);
    // Every way out of the walk lets the batch in flight finish first.
    const leave = async <T>(result: T): Promise<T> => { await pipe.settle(); return result; };
    while (stack.length > 0 || afterFlush.length > 0) {
      if (this.ctx.stopRequested) return leave(report); // abandoned: nothing of it is marked
      if (stack.length === 0) {
        const halt = await stillSane();
        if (halt) return leave({ ...report, halted: halt });
        await flushNow();
        continue;
      }
      const v = stack.pop()!;
      if (v.needsFlush && batch.size > 0) {
        afterFlush.push(v);
        continue;
      }
      all.push(v); // before any wait: an unvisited child keeps its ancestors from being stamped
      if (!v.fresh) await pipe.settle();
      const listed = ahead.get(v) ?? listBoth(this.ctx, v);
      ahead.delete(v);
      const listings = await listed;
      if (pipe.busy && waitsForFlight(listings[0], this.ctx.ids)) await pipe.settle();
      batch.listedUntil = Date.now();
      const children = await visit(this.ctx, v, listings, batch, deferred, report, everSynced, verify);
      if (children === 'halt') return leave({ ...report, halted: 'root_emptied' });
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
      if (batch.size >= this.ctx.cfg.batchMaxEntries || batch.dataBytes >= this.ctx.cfg.batchMaxBytes) {
        const halt = await stillSane();
        if (halt) return leave({ ...report, halted: halt });
        await flushNow();
      }
      listAhead();
    }
    await pipe.settle();
    if (this.ctx.stopRequested) return report;
    const final = await stillSane();
    if (final) return { ...report, halted: final };
    if (batch.size > 0 || batch.visits.length > 0) await flush(this.ctx, batch, report);
    if (deferred.length > 0) {
      const late = await stillSane();
      if (late) return { ...report, halted: late };
    }
    await applyDeferredDeletes(this.ctx, deferred, report);
    if (report.massDelete) return report; // nothing of it is marked: the halt keeps it all
    const rootMark = await stampMarks(this.ctx, all, report);
    // A verification pass over a root whose mark was current already writes no mark: it is
    // complete when nothing of it failed.
    const verified = verify && rootMark === null && rootStime !== null && compareXtime(rootStime, rootX) === 0
      && report.failures.length === 0 && report.churn.length === 0 && !rootVisit.failed && !rootVisit.incomplete;
    return { ...report, rootMark, complete: verified || (rootMark !== null && compareXtime(rootMark, rootX) === 0) };
  }
}

export type { SlaveEntry };
