// The worker: owns one session's master source and slave endpoint, runs passes until told to
// stop (or for --once / --turns), keeps the state file, and never advances synced-up-to past
// what the slave confirmed.
import { displayPath } from '../core/bytepath.js';
import { describeError } from '../core/errors.js';
import { masterIdentityVerdict } from '../core/master-identity.js';
import { freshCounters, judgePass, type PassVerdict } from '../core/pass-outcome.js';
import { pauseBeforeNextPass } from '../core/poll.js';
import { haltExplanation, latchedHalts, type HaltReason } from '../core/safety.js';
import { restartDelayMs, type CrawlState } from '../core/states.js';
import { compareXtime, formatXtime, type Xtime } from '../core/xtime.js';
import { slaveMarkKey } from '../gluster/xattr-names.js';
import type { Logger } from '../log/logger.js';
import type { SlaveEndpoint } from '../protocol/endpoint.js';
import type { SessionState } from '../session/state-file.js';
import { SyncEngine, type EngineEvents, type PassReport } from './engine.js';
import { IdMapStore } from './id-map-store.js';
import { LinkDebt } from './link-debt.js';
import { PassProgress } from './pass-progress.js';
import { SessionRecord } from './session-record.js';
import type { MasterSource } from './source.js';
import { WorkerExit, type WorkerConfig, type WorkerHooks } from './worker-contract.js';

export type { WorkerConfig, WorkerHooks } from './worker-contract.js';
export { WorkerExit } from './worker-contract.js';

/**
 * A busy master leaves some names vanished in every pass, each time other ones. The same name
 * missed this many passes in a row is no longer churn: it counts as failing and backs off.
 */
const CHURN_PASSES_BEFORE_BACKOFF = 20;

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
  /** Deletes are being held (--delete-delay): said once at info level, and when they go. */
  private holdingDeletes = 0;
  private engine: SyncEngine | null = null;
  private readonly record: SessionRecord;
  private readonly saved = new IdMapStore();
  private readonly linkDebt: LinkDebt;
  private readonly progress: PassProgress;
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
    this.record = new SessionRecord(cfg, log, hooks);
    this.linkDebt = new LinkDebt(log, cfg.slaveVerifyIntervalMs ?? 0, (n, at) => hooks.onVerify?.(n, at));
    this.progress = new PassProgress(master, log, cfg.progressIntervalMs ?? 0);
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

  private get state(): SessionState {
    return this.record.state;
  }

  /** Run until done; resolves to a WorkerExit status. */
  async run(): Promise<number> {
    if (this.state.halt && latched(this.state.halt.reason) && !this.cfg.resumeHalted) {
      this.log.error({ reason: this.state.halt.reason, since: this.state.halt.since },
        `session is halted (${haltExplanation[this.state.halt.reason]}); fix the cause, then restart with --resume-halted`);
      this.record.setState('halted', true);
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
    this.record.setState('initializing');
    await this.master.start();
    if (this.master.kind === 'gluster') this.hooks.setMountUp?.(true);
    try {
      const replaced = this.masterIdentityProblem(acceptReplacedMaster);
      if (replaced) return await this.halt('root_type_changed', replaced);
      return await this.loop();
    } finally {
      this.saved.close();
      await this.master.stop().catch((err) => this.log.warn({ err }, 'stopping the master source failed'));
      await this.slave.close().catch((err) => this.log.warn({ err }, 'closing the slave failed'));
      if (this.state.workerState !== 'halted') this.record.setState('stopped', true);
    }
  }

  /**
   * Why this master must not be synced by this session, or null (and the id is remembered).
   * A volume deleted and re-created under the same name has a new id and none of our marks:
   * syncing it as "never synced" would delete the slave's copy of the old one.
   */
  private masterIdentityProblem(acceptReplaced: boolean): string | null {
    const now = this.master.volumeId;
    const v = masterIdentityVerdict({ now, expected: this.cfg.expectedVolumeId, known: this.state.masterVolumeId, everSynced: this.state.initialSyncCompleted, acceptReplaced, gluster: this.master.kind === 'gluster' });
    if (v.kind === 'refuse') return v.why;
    if (v.kind === 'adopt') {
      if (v.was) this.log.warn({ was: v.was, now }, 'the master volume id changed: the new volume is accepted as this session\'s master');
      this.state.masterVolumeId = now;
    }
    return null;
  }

  private async loop(): Promise<number> {
    const markKey = slaveMarkKey(this.master.volumeId);
    this.saved.open(this.cfg.sessionDir, this.master.volumeId, this.log);
    this.linkDebt.open(this.cfg.sessionDir, this.master.volumeId);
    await this.checkSlaveIdentity();
    // Explicit delegation (the hooks may be an IPC proxy, which has no own keys to spread).
    const hooks = this.hooks;
    let busyCrawl: CrawlState = 'initial';
    const events: EngineEvents = {
      // Set only when a pass has work: an idle poll leaves 'idle' (and sends the monitor nothing).
      onBusy: () => this.record.setCrawl(busyCrawl),
      onScanned: (n) => { this.progress.scanned += n; hooks.onScanned?.(n); },
      onBatch: (b) => hooks.onBatch?.(b),
      onRsync: (r) => { this.progress.bytesSent += r.bytesSent; hooks.onRsync?.(r); },
      onEntryOps: (ops, results) => hooks.onEntryOps?.(ops, results),
      onLinkDebt: () => this.linkDebt.writeMarker(),
    };
    const engine = this.engine = new SyncEngine(this.master, this.slave, this.saved.ids, { ...this.cfg.engine, markKey }, this.log, events, () => this.saved.sync(), (ops) => this.saved.stale(ops));
    engine.confirmDeletes(this.deletesConfirmed);
    let slaveMark = await this.slave.readMark('', markKey);
    let markReadAt = Date.now();
    if (!slaveMark && this.state.initialSyncCompleted) {
      this.log.warn({ slave: this.cfg.slaveText }, 'the slave has no mark of this session although it was synced before (emptied, replaced or restored?): resyncing everything');
    }
    this.log.info({ master: this.cfg.masterText, slave: this.cfg.slaveText, volumeId: this.master.volumeId, slaveMark: slaveMark ? formatXtime(slaveMark) : null }, 'worker started');
    this.record.setState('active', true);
    let passes = 0;
    let counters = freshCounters;
    let errors = 0;
    let lastComplete = false;
    while (!this.stopping) {
      const t0 = Date.now();
      const verify = slaveMark ? this.linkDebt.verifyReason(lastComplete) : null;
      busyCrawl = verify ? 'verify' : slaveMark ? 'xtime' : 'initial';
      if (verify) this.log.info({ event: 'verify.start', reason: verify }, verify === 'link-groups'
        ? 'verification pass: comparing every directory with the slave (hard-link groups may be split there)'
        : 'verification pass: comparing every directory with the slave (periodic, --verify-interval)');
      let report: PassReport;
      try {
        const progress = this.progress.start(!slaveMark);
        try {
          report = await engine.pass(slaveMark, this.state.initialSyncCompleted && !this.emptyRootConfirmed, { verify: verify !== null });
        } finally {
          progress.stop();
        }
      } catch (err) {
        // Nothing of an interrupted pass was marked: log, back off, and run the pass again.
        errors++;
        this.linkDebt.passFailed();
        this.state.lastError = { message: describeError(err), at: new Date().toISOString() };
        this.log.error({ err, attempt: errors }, 'pass failed; nothing of it was marked synced; retrying');
        this.record.setState('faulty', true);
        if (this.cfg.once && errors > this.cfg.maxPassRetries) return WorkerExit.failed;
        await this.pause(restartDelayMs(errors, 500, 30_000));
        continue;
      }
      passes++;
      lastComplete = report.complete;
      this.linkDebt.afterPass(report, verify !== null, t0);
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
        this.record.setState('active', true);
      }
      const judged = judgePass({ ...report, advanced: report.complete && report.rootXtime !== null }, counters, CHURN_PASSES_BEFORE_BACKOFF);
      counters = judged.counters;
      if (judged.verdict === 'advanced') {
        this.emptyRootConfirmed = false;
        if (this.deletesConfirmed) engine.confirmDeletes(this.deletesConfirmed = false);
        if (!slaveMark || compareXtime(report.rootXtime!, slaveMark) !== 0) slaveMark = report.rootXtime;
        this.record.advance(t0, report);
        if (this.holdingDeletes > 0) this.log.info({ event: 'deletes.applied', held: this.holdingDeletes }, 'removals on the master are quiet: the held deletes are applied');
        this.holdingDeletes = 0;
      } else if (!report.idle) {
        if (report.rootMark && this.state.initialSyncCompleted) {
          // Something below failed, but everything up to the root's new mark is on the slave.
          slaveMark = report.rootMark;
          this.record.advancePartly(t0, report.rootMark);
        }
        this.notePassIncomplete(judged.verdict, report, counters.churnPasses);
      }
      if (report.idle && !verify) {
        this.idlePasses++;
        this.lastIdleAt = Date.now();
        if (this.lastIdleAt - this.idleReportedAt >= (this.cfg.idleReportMs ?? IDLE_REPORT_MS)) this.reportIdle();
      } else {
        if (this.idlePasses > 0) this.reportIdle();
        this.hooks.onPass?.(report, this.state.syncedUpTo);
      }
      if (!report.idle) this.record.recordPass(report);
      if (this.cfg.once && ((report.complete && !this.linkDebt.verifyReason(true)) || counters.failedPasses > this.cfg.maxPassRetries)) break;
      if (this.cfg.turns > 0 && passes >= this.cfg.turns) break;
      this.record.setCrawl('idle');
      if (!report.idle) this.lastChangeAt = Date.now();
      await this.pause(counters.backoff ? Math.min(30_000, this.cfg.changeIntervalMs * 2 ** counters.backoff) : pauseBeforeNextPass(this.cfg.changeIntervalMs, Date.now() - this.lastChangeAt));
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
    const done = !this.cfg.once || counters.failedPasses === 0;
    return done ? WorkerExit.done : WorkerExit.failed;
  }

  /** Report the idle passes since the last report (also when asked and there were none). */
  reportIdle(): void {
    this.hooks.onIdle?.(this.idlePasses, this.lastIdleAt, this.state.syncedUpTo);
    this.idlePasses = 0;
    this.idleReportedAt = Date.now();
  }

  /** Log (and record as the last error) why a busy pass did not complete. */
  private notePassIncomplete(verdict: PassVerdict, report: PassReport, churnPasses: number): void {
    if (verdict === 'failures') {
      this.state.lastError = { message: report.failures.slice(0, 5).join('; '), at: new Date().toISOString() };
      this.log.warn({ failures: report.failures.length, sample: report.failures.slice(0, 5) }, 'pass incomplete: what failed stays unmarked and is retried');
    } else if (verdict === 'churn-stuck') {
      // The same kind of miss pass after pass is no longer a busy master: treat it as failing.
      this.state.lastError = { message: report.churn.slice(0, 5).join('; '), at: new Date().toISOString() };
      this.log.warn({ churn: report.churn.length, passes: churnPasses, sample: report.churn.slice(0, 5) }, 'pass incomplete: names keep vanishing before they can be applied; backing off');
    } else if (verdict === 'deletes-held') {
      const first = this.holdingDeletes === 0;
      this.holdingDeletes = report.heldDeletes;
      const delay = this.cfg.engine.deletes.delayMs / 1000;
      this.log[first ? 'info' : 'debug']({ event: 'deletes.held', held: report.heldDeletes }, `holding deletes until removals on the master have been quiet for ${delay} s (--delete-delay): a removal still going on is seen whole first`);
    } else {
      // Nothing failed: names or directories were renamed or removed while the pass worked on
      // them (a busy master). What they were in stays unmarked; the next pass, without backing
      // off, finds where they went.
      this.log.info({ event: 'pass.incomplete', dirsVisited: report.dirsVisited, vanished: report.churn.length, sample: report.churn.slice(0, 3) }, 'pass incomplete: the master changed under the pass; running again');
    }
  }

  /** A latched halt: stays until an operator restarts with --resume-halted. */
  private async halt(reason: HaltReason, why?: string): Promise<number> {
    const detail = why ? `${haltExplanation[reason]}: ${why}` : haltExplanation[reason];
    this.state.halt = { reason, since: new Date().toISOString(), detail };
    const kept = reason === 'mass_delete' ? 'none of those deletes was applied on the slave' : 'nothing was deleted on the slave';
    this.log.error({ reason, event: 'safety.halt' }, `SAFETY HALT: ${detail}; ${kept}. Fix the cause (or confirm the deletion), then restart with --resume-halted`);
    this.record.setState('halted', true);
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
    this.record.setState('faulty', true);
  }

  private async checkSlaveIdentity(): Promise<void> {
    const id = await this.slave.identity();
    const prev = this.state.slaveIdentity;
    if (prev && (prev.rootDev !== id.rootDev || prev.rootIno !== id.rootIno)) {
      this.log.warn({ was: prev, now: { rootDev: id.rootDev, rootIno: id.rootIno } }, 'the slave root is another directory than last time: its marks decide what is resynced');
    }
    this.state.slaveIdentity = { rootDev: id.rootDev, rootIno: id.rootIno };
  }
}

/** Halts an operator must clear; a missing mount clears itself when the mount is back. */
function latched(reason: HaltReason): boolean {
  return latchedHalts.includes(reason);
}

function sameMark(a: Xtime | null, b: Xtime | null): boolean {
  return a === b || (!!a && !!b && compareXtime(a, b) === 0);
}

export { repeatedChurn } from '../core/pass-outcome.js';
