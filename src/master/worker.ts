// The worker: owns one session's master source and slave endpoint, runs passes until told to
// stop (or for --once / --turns), keeps the state file, and never advances synced-up-to past
// what the slave confirmed.
import fs from 'node:fs';
import path from 'node:path';
import { displayPath, type BytePath } from '../core/bytepath.js';
import { IdMap } from '../core/id-map.js';
import { opPaths, type EntryOp } from '../core/ops.js';
import { describeError } from '../core/errors.js';
import { haltExplanation, latchedHalts, type HaltReason } from '../core/safety.js';
import { formatProgress, progressLine } from '../core/progress.js';
import { pauseBeforeNextPass } from '../core/poll.js';
import { restartDelayMs, type CrawlState, type WorkerState } from '../core/states.js';
import { nextLinkVerifyAt, verifyReason, type VerifyReason } from '../core/verify.js';
import { compareXtime, formatXtime, type Xtime } from '../core/xtime.js';
import { checkpointProgress, resolveCheckpoint } from '../observe/checkpoint.js';
import type { Logger } from '../observe/logger.js';
import type { SlaveEndpoint } from '../slave/endpoint.js';
import { SlaveServer } from '../slave/server.js';
import { SyncEngine, type EngineConfig, type EngineEvents, type PassReport } from './engine.js';
import { Journal } from './journal.js';
import type { MasterSource } from './source.js';
import { readState, writeState, type SessionState } from './state-file.js';

export interface WorkerConfig {
  readonly session: string;
  readonly masterText: string;
  readonly slaveText: string;
  /** Per-session directory for the id map and the tracker's index. */
  readonly sessionDir: string;
  readonly stateFile: string;
  readonly changeIntervalMs: number;
  readonly xtimeSettleMs: number;
  /** Stop after one complete pass (retrying failed passes up to maxPassRetries). */
  readonly once: boolean;
  /** Stop after this many passes (0 = unlimited). */
  readonly turns: number;
  readonly maxPassRetries: number;
  readonly resumeHalted: boolean;
  /** --volume-id: the master volume must have this id ('' = learn it on the first run). */
  readonly expectedVolumeId?: string;
  /** Configured checkpoint text ('' = none): now, Unix seconds or ISO-8601. */
  readonly checkpoint: string;
  /** How often the slave root mark is re-read while idle (notices an emptied or restored slave). */
  readonly slaveMarkRefreshMs: number;
  /** Period of `crawl.progress` log lines during a pass (0 = none). */
  readonly progressIntervalMs?: number;
  /** Longest time idle passes go unreported (default IDLE_REPORT_MS; 0 = each one at once). */
  readonly idleReportMs?: number;
  /** Period of verification passes, a full comparison with the slave (0 = only when needed). */
  readonly slaveVerifyIntervalMs?: number;
  readonly engine: Omit<EngineConfig, 'markKey'>;
}

export interface WorkerHooks extends Omit<EngineEvents, 'onBusy' | 'onLinkDebt'> {
  onState?(state: SessionState): void;
  /**
   * Idle passes since the last report (each a trivially complete batch), when the last one ran,
   * and synced-up-to after it. Idle passes are reported in bulk: when asked (reportIdle, a scrape
   * of the monitor), before a busy pass's report, and at least every IDLE_REPORT_MS.
   */
  onIdle?(passes: number, lastAt: number, syncedUpTo: number | undefined): void;
  /** A verification pass completed: entries it found different and fixed, when. */
  onVerify?(driftedEntries: number, completedAtMs?: number): void;
  /** The master mount came up / went away (GlusterFS masters). */
  setMountUp?(up: boolean): void;
  onPass?(report: PassReport, syncedUpTo: number | undefined): void;
}

/** Worker exit statuses the monitor understands. */
export const WorkerExit = { done: 0, failed: 1, halted: 3 } as const;

/**
 * A busy master leaves some names vanished in every pass, each time other ones. The same name
 * missed this many passes in a row is no longer churn: it counts as failing and backs off.
 */
const CHURN_PASSES_BEFORE_BACKOFF = 20;

/** How often an idle worker rewrites (and fsyncs) its state file. */
const IDLE_STATE_WRITE_MS = 15_000;

/**
 * Longest time idle passes go unreported to the monitor. An idle poll every change-interval
 * woke the monitor as often (a third of the idle cost); it asks for them when it is scraped.
 */
const IDLE_REPORT_MS = 30_000;

export class Worker {
  private stopping = false;
  /** --resume-halted after root_emptied: the next complete pass may mirror an empty root. */
  private emptyRootConfirmed = false;
  /** --resume-halted after mass_delete: the held deletes are applied by the next complete pass. */
  private deletesConfirmed = false;
  private engine: SyncEngine | null = null;
  /** Entries scanned and bytes sent in the current pass (progress lines). */
  private scanned = 0;
  private passBytes = 0;
  private state: SessionState;
  private lastStateWrite = 0;
  private ids: IdMap = new IdMap();
  /** `ids-VOL.journal.stale`: present while the slave may be ahead of the saved id map. */
  private staleMarker = '';
  private idsStaleMarked = false;
  private idJournal: Journal<string> | null = null;
  /**
   * `linkdebt-VOL`: present while hard-link groups may be split on the slave (a name sent as a
   * copy while the file's other names were unknown). Survives a kill: the directories involved
   * may be marked and never change again, so only a verification pass finds the group.
   */
  private linkDebtMarker = '';
  private linkDebtSince: number | null = null;
  private linkDebtWritten = false;
  /** When a verification pass for open link groups may run next. */
  private nextLinkVerifyAt = 0;
  private linkVerifyRounds = 0;
  private lastVerifyAt = Date.now();
  /** Idle passes not yet reported (see WorkerHooks.onIdle). */
  private idlePasses = 0;
  private lastIdleAt = 0;
  /** When the last pass that found a change ended (or the worker started): idle time counts from it. */
  private lastChangeAt = Date.now();
  private idleReportedAt = Date.now();

  constructor(
    private readonly cfg: WorkerConfig,
    private readonly master: MasterSource,
    private readonly slave: SlaveEndpoint,
    private readonly log: Logger,
    private readonly hooks: WorkerHooks = {},
  ) {
    const prev = readState(cfg.stateFile);
    this.state = {
      version: 1, session: cfg.session, master: cfg.masterText, slave: cfg.slaveText,
      workerState: 'initializing', crawlState: 'initial', pid: process.pid, updatedAt: '',
      initialSyncCompleted: prev?.initialSyncCompleted ?? false, restarts: prev?.restarts ?? 0,
      ...(prev?.syncedUpTo !== undefined ? { syncedUpTo: prev.syncedUpTo } : {}),
      ...(prev?.rootStime ? { rootStime: prev.rootStime } : {}),
      ...(prev?.halt ? { halt: prev.halt } : {}),
      ...(prev?.slaveIdentity ? { slaveIdentity: prev.slaveIdentity } : {}),
      ...(prev?.masterVolumeId ? { masterVolumeId: prev.masterVolumeId } : {}),
    };
    const checkpoint = resolveCheckpoint(cfg.checkpoint, prev?.checkpoint, Date.now());
    if (checkpoint) this.state.checkpoint = checkpoint;
  }

  stop(): void {
    this.stopping = true;
    this.engine?.requestStop();
    this.wakeUp();
  }

  private wakeUp: () => void = () => {};
  private readonly stopped = new Promise<void>((r) => { this.wakeUp = r; });

  /** Wait for a change, the timeout, or stop(): whichever comes first. */
  private pause(ms: number): Promise<void> {
    return Promise.race([this.master.waitForChange(ms), this.stopped]);
  }

  get current(): SessionState {
    return this.state;
  }

  /** Run until done; resolves to a WorkerExit status. */
  async run(): Promise<number> {
    if (this.state.halt && latched(this.state.halt.reason) && !this.cfg.resumeHalted) {
      this.log.error({ reason: this.state.halt.reason, since: this.state.halt.since },
        `session is halted (${haltExplanation[this.state.halt.reason]}); fix the cause, then restart with --resume-halted`);
      this.setState('halted', true);
      return this.stayHalted();
    }
    let acceptReplacedMaster = false;
    if (this.state.halt && latched(this.state.halt.reason)) {
      // The operator confirmed the change: mirror an emptied root once, accept a replaced one.
      this.log.warn({ reason: this.state.halt.reason }, 'resuming a halted session (--resume-halted): the change is mirrored');
      // A confirmed mass delete may have emptied the root meanwhile: that is what was confirmed.
      if (this.state.halt.reason === 'root_emptied' || this.state.halt.reason === 'mass_delete') this.emptyRootConfirmed = true;
      // Whatever was confirmed (an emptied root, a replaced one, the deletes themselves) is
      // mirrored by deletes: the guard would halt again on exactly what the operator accepted.
      this.deletesConfirmed = true;
      if (this.state.halt.reason === 'root_type_changed') {
        acceptReplacedMaster = true;
        await this.master.acceptRootChange?.();
      }
    } else if (this.state.halt) {
      this.log.info({ reason: this.state.halt.reason }, `the last run stopped while ${haltExplanation[this.state.halt.reason]}: checking again`);
    }
    delete this.state.halt;
    this.setState('initializing');
    await this.master.start();
    if (this.master.kind === 'gluster') this.hooks.setMountUp?.(true);
    try {
      const replaced = this.masterIdentityProblem(acceptReplacedMaster);
      if (replaced) return await this.halt('root_type_changed', replaced);
      return await this.loop();
    } finally {
      this.idJournal?.close();
      await this.master.stop().catch((err) => this.log.warn({ err }, 'stopping the master source failed'));
      await this.slave.close().catch((err) => this.log.warn({ err }, 'closing the slave failed'));
      if (this.state.workerState !== 'halted') this.setState('stopped', true);
    }
  }

  /**
   * Why this master must not be synced by this session, or null (and the id is remembered).
   * A volume deleted and re-created under the same name has a new id and none of our marks:
   * syncing it as "never synced" would delete the slave's copy of the old one.
   */
  private masterIdentityProblem(acceptReplaced: boolean): string | null {
    const now = this.master.volumeId;
    const expected = this.cfg.expectedVolumeId;
    if (expected && expected.toLowerCase() !== now.toLowerCase()) {
      return `the master volume id is ${now}, not ${expected} as --volume-id says`;
    }
    const known = this.state.masterVolumeId;
    // A directory master's id is ours (its tracker's); its replacement is caught by root identity.
    if (known && known !== now && this.state.initialSyncCompleted && !acceptReplaced && this.master.kind === 'gluster') {
      return `the master volume id is ${now}, but this session synced ${known} (volume deleted and re-created?)`;
    }
    if (known !== now) {
      if (known) this.log.warn({ was: known, now }, 'the master volume id changed: the new volume is accepted as this session\'s master');
      this.state.masterVolumeId = now;
    }
    return null;
  }

  private async loop(): Promise<number> {
    const markKey = SlaveServer.markKey(this.master.volumeId);
    this.openIdMap();
    await this.checkSlaveIdentity();
    // Explicit delegation (the hooks may be an IPC proxy, which has no own keys to spread).
    const hooks = this.hooks;
    let busyCrawl: CrawlState = 'initial';
    const events: EngineEvents = {
      // Set only when a pass has work: an idle poll leaves 'idle' (and sends the monitor nothing).
      onBusy: () => this.setCrawl(busyCrawl),
      onScanned: (n) => { this.scanned += n; hooks.onScanned?.(n); },
      onBatch: (b) => hooks.onBatch?.(b),
      onRsync: (r) => { this.passBytes += r.bytesSent; hooks.onRsync?.(r); },
      onEntryOps: (ops, results) => hooks.onEntryOps?.(ops, results),
      onLinkDebt: () => this.writeLinkDebtMarker(),
    };
    const engine = this.engine = new SyncEngine(this.master, this.slave, this.ids, { ...this.cfg.engine, markKey }, this.log, events, () => this.idJournalSync(), (ops) => this.idJournalStale(ops));
    engine.confirmDeletes(this.deletesConfirmed);
    let slaveMark = await this.slave.readMark('', markKey);
    let markReadAt = Date.now();
    if (!slaveMark && this.state.initialSyncCompleted) {
      this.log.warn({ slave: this.cfg.slaveText }, 'the slave has no mark of this session although it was synced before (emptied, replaced or restored?): resyncing everything');
    }
    this.log.info({ master: this.cfg.masterText, slave: this.cfg.slaveText, volumeId: this.master.volumeId, slaveMark: slaveMark ? formatXtime(slaveMark) : null }, 'worker started');
    this.setState('active', true);
    let passes = 0;
    let failedPasses = 0;
    /** Passes in a row with failures: the pause before the next one grows with it. */
    let backoff = 0;
    let errors = 0;
    /** Passes in a row left incomplete only by names that vanished (churn). */
    let churnPasses = 0;
    let lastChurn = new Set<string>();
    let lastComplete = false;
    while (!this.stopping) {
      const t0 = Date.now();
      const verify = slaveMark ? this.verifyReason(lastComplete) : null;
      busyCrawl = verify ? 'verify' : slaveMark ? 'xtime' : 'initial';
      if (verify) this.log.info({ event: 'verify.start', reason: verify }, verify === 'link-groups'
        ? 'verification pass: comparing every directory with the slave (hard-link groups may be split there)'
        : 'verification pass: comparing every directory with the slave (periodic, --verify-interval)');
      let report: PassReport;
      try {
        const progress = this.startProgress(!slaveMark);
        try {
          report = await engine.pass(slaveMark, this.state.initialSyncCompleted && !this.emptyRootConfirmed, { verify: verify !== null });
        } finally {
          progress.stop();
        }
      } catch (err) {
        // Nothing of an interrupted pass was marked: log, back off, and run the pass again.
        errors++;
        if (this.linkDebtWritten) this.linkDebtSince ??= Date.now(); // its batches may have sent copies
        this.state.lastError = { message: describeError(err), at: new Date().toISOString() };
        this.log.error({ err, attempt: errors }, 'pass failed; nothing of it was marked synced; retrying');
        this.setState('faulty', true);
        if (this.cfg.once && errors > this.cfg.maxPassRetries) return WorkerExit.failed;
        await this.pause(restartDelayMs(errors, 500, 30_000));
        continue;
      }
      passes++;
      lastComplete = report.complete;
      this.afterPassLinks(report, verify !== null, t0);
      if (report.halted && latched(report.halted)) return this.halt(report.halted);
      if (report.massDelete) {
        const t = report.massDelete;
        return this.halt('mass_delete', `${t.count} entries would be deleted within the window, over --${t.which} (limit ${t.limit}); first: ${t.sample.map(displayPath).join(', ')}`);
      }
      if (report.halted) {
        // The mount is gone or not connected (a server restart): wait for it, never mirror it.
        errors++;
        this.noteTransientHalt(report.halted);
        this.hooks.setMountUp?.(false);
        if (this.cfg.once && errors > this.cfg.maxPassRetries) return WorkerExit.failed;
        await this.pause(restartDelayMs(errors, 500, 30_000));
        await this.master.recover?.().catch((err) => this.log.warn({ err }, 'master recovery failed; retrying later'));
        continue;
      }
      if (errors > 0 || this.state.halt) {
        errors = 0;
        if (this.state.halt) this.log.info({ reason: this.state.halt.reason }, 'the master is back: resuming');
        if (this.state.halt && this.master.kind === 'gluster') this.hooks.setMountUp?.(true);
        delete this.state.halt;
        this.setState('active', true);
      }
      if (report.complete && report.rootXtime) {
        this.emptyRootConfirmed = false;
        if (this.deletesConfirmed) engine.confirmDeletes(this.deletesConfirmed = false);
        if (!slaveMark || compareXtime(report.rootXtime, slaveMark) !== 0) slaveMark = report.rootXtime;
        this.advance(t0, report);
        failedPasses = 0;
      } else if (!report.idle) {
        // Deletes held by the delay are not a failure: they are applied once removals are quiet.
        if (report.heldDeletes === 0 || report.failures.length > 0) failedPasses++;
        if (report.rootMark && this.state.initialSyncCompleted) {
          // Something below failed, but everything up to the root's new mark is on the slave.
          slaveMark = report.rootMark;
          this.advancePartly(t0, report.rootMark);
        }
        if (report.failures.length > 0) {
          backoff++;
          this.state.lastError = { message: report.failures.slice(0, 5).join('; '), at: new Date().toISOString() };
          this.log.warn({ failures: report.failures.length, sample: report.failures.slice(0, 5) }, 'pass incomplete: what failed stays unmarked and is retried');
        } else if (report.churn.length > 0 && (churnPasses = repeatedChurn(lastChurn, report.churn, churnPasses)) > CHURN_PASSES_BEFORE_BACKOFF) {
          // The same kind of miss pass after pass is no longer a busy master: treat it as failing.
          backoff++;
          this.state.lastError = { message: report.churn.slice(0, 5).join('; '), at: new Date().toISOString() };
          this.log.warn({ churn: report.churn.length, passes: churnPasses, sample: report.churn.slice(0, 5) }, 'pass incomplete: names keep vanishing before they can be applied; backing off');
        } else if (report.churn.length === 0 && report.heldDeletes > 0) {
          backoff = 0;
          this.log.debug({ event: 'deletes.held', held: report.heldDeletes }, 'deletes held until removals on the master are quiet (--delete-delay)');
        } else {
          // Nothing failed: names or directories were renamed or removed while the pass worked on
          // them (a busy master). What they were in stays unmarked; the next pass, without backing
          // off, finds where they went.
          backoff = 0;
          this.log.info({ event: 'pass.incomplete', dirsVisited: report.dirsVisited, vanished: report.churn.length, sample: report.churn.slice(0, 3) }, 'pass incomplete: the master changed under the pass; running again');
        }
      }
      if (report.complete) backoff = 0;
      if (report.complete || report.churn.length === 0) churnPasses = 0;
      lastChurn = new Set(report.churn);
      if (report.idle && !verify) {
        this.idlePasses++;
        this.lastIdleAt = Date.now();
        if (this.lastIdleAt - this.idleReportedAt >= (this.cfg.idleReportMs ?? IDLE_REPORT_MS)) this.reportIdle();
      } else {
        if (this.idlePasses > 0) this.reportIdle();
        this.hooks.onPass?.(report, this.state.syncedUpTo);
      }
      if (!report.idle) this.recordPass(report);
      if (this.cfg.once && ((report.complete && !this.verifyReason(true)) || failedPasses > this.cfg.maxPassRetries)) break;
      if (this.cfg.turns > 0 && passes >= this.cfg.turns) break;
      this.setCrawl('idle');
      if (!report.idle) this.lastChangeAt = Date.now();
      await this.pause(backoff ? Math.min(30_000, this.cfg.changeIntervalMs * 2 ** backoff) : pauseBeforeNextPass(this.cfg.changeIntervalMs, Date.now() - this.lastChangeAt));
      if (Date.now() - markReadAt >= this.cfg.slaveMarkRefreshMs) {
        const fresh = await this.slave.readMark('', markKey);
        markReadAt = Date.now();
        if (!sameMark(fresh, slaveMark)) {
          this.log.warn({ was: slaveMark ? formatXtime(slaveMark) : null, now: fresh ? formatXtime(fresh) : null }, 'the slave root mark changed behind our back (emptied, restored or another writer): re-checking the tree');
          slaveMark = fresh;
        }
      }
    }
    if (this.idlePasses > 0) this.reportIdle();
    const done = !this.cfg.once || failedPasses === 0;
    return done ? WorkerExit.done : WorkerExit.failed;
  }

  /** Report the idle passes since the last report (also when asked and there were none). */
  reportIdle(): void {
    this.hooks.onIdle?.(this.idlePasses, this.lastIdleAt, this.state.syncedUpTo);
    this.idlePasses = 0;
    this.idleReportedAt = Date.now();
  }

  /**
   * Whether the next pass verifies, and why: hard-link groups left open (once the master is
   * caught up, or after waiting long enough under churn), or the periodic --verify-interval.
   */
  private verifyReason(caughtUp: boolean): VerifyReason | null {
    const { linkDebtSince, nextLinkVerifyAt, lastVerifyAt } = this;
    return verifyReason({ linkDebtSince, nextLinkVerifyAt, lastVerifyAt, everyMs: this.cfg.slaveVerifyIntervalMs ?? 0 }, caughtUp, Date.now());
  }

  /** Open hard-link groups after a pass: recorded (durably) or, after a verification, cleared. */
  private afterPassLinks(report: PassReport, verified: boolean, t0: number): void {
    if (verified && report.complete) {
      const ms = Date.now() - t0;
      this.lastVerifyAt = Date.now();
      const fixed = report.entryOps + report.dataFiles;
      this.log.info({ event: 'verify.done', dirsVisited: report.dirsVisited, fixed, openLinkGroups: report.linkDebt, durationMs: ms }, 'verification pass complete');
      this.hooks.onVerify?.(fixed, Date.now());
      if (report.linkDebt === 0) {
        this.linkDebtSince = null;
        this.linkVerifyRounds = 0;
      } else {
        // Still open (a link count the slave cannot match?): verify again, less and less often.
        this.linkVerifyRounds++;
        this.nextLinkVerifyAt = nextLinkVerifyAt(Date.now(), ms, this.linkVerifyRounds);
      }
    } else if (verified) {
      // Interrupted (churn, failures): again after a while, not pass after pass.
      this.nextLinkVerifyAt = nextLinkVerifyAt(Date.now(), Date.now() - t0, 0);
      const every = this.cfg.slaveVerifyIntervalMs ?? 0;
      const gap = this.nextLinkVerifyAt - Date.now();
      if (every > gap) this.lastVerifyAt = Date.now() - every + gap;
    }
    if (report.linkDebt > 0) this.linkDebtSince ??= Date.now();
    if (this.linkDebtSince !== null) this.writeLinkDebtMarker();
    else if (this.linkDebtWritten) {
      fs.rmSync(this.linkDebtMarker, { force: true });
      this.linkDebtWritten = false;
    }
  }

  private writeLinkDebtMarker(): void {
    if (this.linkDebtWritten || !this.linkDebtMarker) return;
    // Durable before the marks it covers are written on the slave (another host may outlive us).
    const fd = fs.openSync(this.linkDebtMarker, 'w');
    try {
      fs.writeSync(fd, `${new Date().toISOString()}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    this.linkDebtWritten = true;
  }

  /** synced_up_to := max(old, T0 − settle): every change before T0 was on the master when the pass read the root xtime. */
  private advance(t0: number, report: PassReport): void {
    const candidate = t0 - this.cfg.xtimeSettleMs;
    const first = !this.state.initialSyncCompleted;
    this.state.syncedUpTo = Math.max(this.state.syncedUpTo ?? 0, candidate);
    this.state.initialSyncCompleted = true;
    this.state.rootStime = formatXtime(report.rootXtime!);
    delete this.state.lastError;
    if (first) this.log.info({ syncedUpTo: new Date(this.state.syncedUpTo).toISOString() }, 'initial sync complete');
    if (this.noteCheckpoint()) this.persist(0);
    // Idle passes only move synced-up-to: persist that at a bounded rate (the monitor hears of
    // them over IPC, see reportIdle; the file is for a restart and `gsyncd status` without it).
    this.persist(report.idle ? IDLE_STATE_WRITE_MS : 0);
  }

  /** synced_up_to := max(old, min(the root mark's time, T0) − settle), after an incomplete pass. */
  private advancePartly(t0: number, rootMark: Xtime): void {
    const markMs = rootMark.sec * 1000 + Math.floor(rootMark.usec / 1000);
    this.state.syncedUpTo = Math.max(this.state.syncedUpTo ?? 0, Math.min(markMs, t0) - this.cfg.xtimeSettleMs);
    this.state.rootStime = formatXtime(rootMark);
    this.noteCheckpoint(); // persisted with the pass record
  }

  /** Whether synced-up-to just reached the checkpoint (logged once). */
  private noteCheckpoint(): boolean {
    const cp = checkpointProgress(this.state.checkpoint, this.state.syncedUpTo, Date.now());
    if (cp.checkpoint) this.state.checkpoint = cp.checkpoint;
    if (cp.justCompleted) this.log.info({ event: 'checkpoint.completed', checkpoint: new Date(cp.checkpoint!.target).toISOString() }, 'checkpoint completed: everything written before it is on the slave');
    return cp.justCompleted;
  }

  private recordPass(r: PassReport): void {
    this.state.lastPass = { at: new Date().toISOString(), dirsVisited: r.dirsVisited, entryOps: r.entryOps, dataFiles: r.dataFiles, bytesSent: r.bytesSent, failures: r.failures.length };
    this.log.info(this.state.lastPass, r.complete ? 'pass complete' : 'pass incomplete');
    this.persist(0);
  }

  /**
   * While a pass runs: a `crawl.progress` line every progress-interval (entries scanned, bytes
   * sent, rates; during the initial sync also percent and ETA against an estimate of the tree)
   * and, on an interactive terminal, the same as one line on stderr.
   */
  private startProgress(initial: boolean): { stop(): void } {
    const every = this.cfg.progressIntervalMs ?? 0;
    const started = Date.now();
    const tty = process.stderr.isTTY === true;
    let estimate: number | null = null;
    if (initial && (every > 0 || tty)) void estimateEntries(this.master).then((n) => { estimate = n; });
    const line = () => progressLine({ scanned: this.scanned, bytesSent: this.passBytes, elapsedMs: Date.now() - started, estimate });
    this.scanned = 0;
    this.passBytes = 0;
    const timers = [
      every > 0 ? setInterval(() => this.log.info(line(), 'crawl progress'), every) : null,
      tty ? setInterval(() => process.stderr.write(`\r  ${formatProgress(line())}   `), 500) : null,
    ];
    return {
      stop: () => {
        for (const t of timers) if (t) clearInterval(t);
        if (tty && Date.now() - started >= 500) process.stderr.write('\n');
      },
    };
  }

  /** A latched halt: stays until an operator restarts with --resume-halted. */
  private async halt(reason: HaltReason, why?: string): Promise<number> {
    const detail = why ? `${haltExplanation[reason]}: ${why}` : haltExplanation[reason];
    this.state.halt = { reason, since: new Date().toISOString(), detail };
    const kept = reason === 'mass_delete' ? 'none of those deletes was applied on the slave' : 'nothing was deleted on the slave';
    this.log.error({ reason, event: 'safety.halt' }, `SAFETY HALT: ${detail}; ${kept}. Fix the cause (or confirm the deletion), then restart with --resume-halted`);
    this.setState('halted', true);
    return this.stayHalted();
  }

  /**
   * One-shot runs end at once; a continuous worker stays up in state `halted` (metrics and
   * status keep reporting it) until it is stopped: a restart must not resume silently.
   */
  private async stayHalted(): Promise<number> {
    if (this.cfg.once || this.cfg.turns > 0) return WorkerExit.halted;
    const keepAlive = setInterval(() => {}, 60_000); // nothing else may hold the event loop open
    await this.stopped;
    clearInterval(keepAlive);
    return WorkerExit.halted;
  }

  private noteTransientHalt(reason: HaltReason): void {
    if (this.state.halt?.reason === reason) return;
    this.state.halt = { reason, since: new Date().toISOString(), detail: haltExplanation[reason] };
    this.log.error({ reason, event: 'safety.halt' }, `master unavailable (${haltExplanation[reason]}): nothing is mirrored until it is back`);
    this.setState('faulty', true);
  }

  private async checkSlaveIdentity(): Promise<void> {
    const id = await this.slave.identity();
    const prev = this.state.slaveIdentity;
    if (prev && (prev.rootDev !== id.rootDev || prev.rootIno !== id.rootIno)) {
      this.log.warn({ was: prev, now: { rootDev: id.rootDev, rootIno: id.rootIno } }, 'the slave root is another directory than last time: its marks decide what is resynced');
    }
    this.state.slaveIdentity = { rootDev: id.rootDev, rootIno: id.rootIno };
  }

  private openIdMap(): void {
    // Keyed by master volume id: another master's ids mean nothing here.
    const file = path.join(this.cfg.sessionDir, `ids-${this.master.volumeId}.journal`);
    this.staleMarker = `${file}.stale`;
    this.linkDebtMarker = path.join(this.cfg.sessionDir, `linkdebt-${this.master.volumeId}`);
    if (fs.existsSync(this.linkDebtMarker)) {
      // Counted from this worker's start, not the marker's: a worker killed every few minutes
      // would otherwise begin with a full walk each time instead of catching up.
      this.linkDebtSince = Date.now();
      this.linkDebtWritten = true;
      this.log.info({ file: this.linkDebtMarker }, 'hard-link groups may be split on the slave (recorded by the last worker): a verification pass will join them');
    }
    this.idJournal = Journal.open<string>(file);
    for (const [p, id] of this.idJournal.state) this.ids.set(p, id);
    const inDoubt = readStaleMarker(this.staleMarker);
    if (inDoubt) {
      // The last worker was changing these names on the slave when it died: the map may place an
      // object at a name that holds another one now, and a rename or link from there would move
      // or share the wrong file. Forget them (and what is below them); the rest was confirmed.
      const forgotten = inDoubt === 'all' ? this.ids.deleteSubtrees(['']) : this.ids.deleteSubtrees(inDoubt);
      this.log.warn({ file, inDoubt: inDoubt === 'all' ? 'all' : inDoubt.length, forgotten: forgotten.length }, 'the id map was not saved after the last entry ops (worker killed?): forgetting the names they touched');
      this.idJournalSync();
      fs.rmSync(this.staleMarker, { force: true });
    }
    this.ids.drainChanges();
  }

  /** Mirror the in-memory id map into the journal and fsync it. */
  private idJournalSync(): void {
    const j = this.idJournal;
    if (!j) return;
    for (const [p, id] of this.ids.drainChanges()) {
      if (id === undefined) j.delete(p);
      else j.set(p, id);
    }
    j.flush();
    if (this.idsStaleMarked) {
      fs.rmSync(this.staleMarker, { force: true });
      this.idsStaleMarked = false;
    }
  }

  /** Before ops change names on the slave: until the next idJournalSync, the saved map may be wrong about them. */
  private idJournalStale(ops: readonly EntryOp[]): void {
    if (!this.staleMarker) return;
    const paths = [...new Set(ops.flatMap(opPaths))];
    fs.appendFileSync(this.staleMarker, `${JSON.stringify(paths)}\n`);
    this.idsStaleMarked = true;
  }

  private setState(s: WorkerState, force = false): void {
    if (this.state.workerState === s && !force) return;
    this.state.workerState = s;
    this.state.pid = process.pid;
    this.persist(0);
  }

  private setCrawl(c: CrawlState): void {
    if (this.state.crawlState === c) return;
    this.state.crawlState = c;
    this.hooks.onState?.(this.state);
  }

  private persist(minIntervalMs: number): void {
    const now = Date.now();
    if (minIntervalMs > 0 && now - this.lastStateWrite < minIntervalMs) return;
    this.lastStateWrite = now;
    writeState(this.cfg.stateFile, this.state);
    this.hooks.onState?.(this.state);
  }
}

/** Halts an operator must clear; a missing mount clears itself when the mount is back. */
function latched(reason: HaltReason): boolean {
  return latchedHalts.includes(reason);
}

/** Number of GlusterFS's own `.glusterfs/xx/yy` directories on a brick (not data). */
const GLUSTER_INTERNAL_DIRS = 256 + 256 * 256;

/**
 * Rough size of the master tree for an ETA: used inodes of its file system. Only when that file
 * system is the master's own (a GlusterFS volume, or a directory that is a mount point); a plain
 * directory on a shared file system gets no estimate rather than a wrong one.
 */
async function estimateEntries(master: MasterSource): Promise<number | null> {
  try {
    const root = master.root;
    if (master.kind === 'file') {
      const [here, parent] = await Promise.all([fs.promises.stat(root), fs.promises.stat(path.dirname(root))]);
      if (here.dev === parent.dev && here.ino !== parent.ino) return null;
    }
    const st = await fs.promises.statfs(root);
    const used = st.files - st.ffree - (master.kind === 'gluster' ? GLUSTER_INTERNAL_DIRS : 0);
    return used > 0 ? used : null;
  } catch {
    return null;
  }
}

function sameMark(a: Xtime | null, b: Xtime | null): boolean {
  return a === b || (!!a && !!b && compareXtime(a, b) === 0);
}

/** Passes in a row whose churn repeats a name of the previous pass's (1 = a fresh one). */
export function repeatedChurn(previous: ReadonlySet<string>, now: readonly string[], run: number): number {
  return now.some((c) => previous.has(c)) ? run + 1 : 1;
}

/** Paths listed in a stale marker (one JSON array per line); 'all' when it cannot be read whole. */
function readStaleMarker(file: string): BytePath[] | 'all' | null {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch { return null; }
  const out: BytePath[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const paths = JSON.parse(line) as unknown;
      if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string')) return 'all';
      out.push(...(paths as BytePath[]));
    } catch {
      return 'all'; // torn: the list of what was in flight is not complete
    }
  }
  return out;
}
