// Hard-link groups that may be split on the slave (a name sent as a copy while the file's other
// names were unknown): the durable `linkdebt-VOL` marker, and when a verification pass runs to
// join them. The marker survives a kill: the directories involved may be marked and never change
// again, so only a verification pass finds the group.
import fs from 'node:fs';
import path from 'node:path';
import { nextLinkVerifyAt, verifyReason, type VerifyReason } from '../core/verify.js';
import type { Logger } from '../log/logger.js';
import type { PassReport } from './engine.js';

export class LinkDebt {
  private marker = '';
  private since: number | null = null;
  private written = false;
  /** When a verification pass for open link groups may run next. */
  private nextVerifyAt = 0;
  private verifyRounds = 0;
  private lastVerifyAt = Date.now();

  constructor(
    private readonly log: Logger,
    /** Period of verification passes (0 = only when needed). */
    private readonly everyMs: number,
    private readonly onVerify?: (driftedEntries: number, completedAtMs?: number) => void,
  ) {}

  /** The marker of master volume `volumeId`: a debt the last worker recorded is taken over. */
  open(sessionDir: string, volumeId: string): void {
    this.marker = path.join(sessionDir, `linkdebt-${volumeId}`);
    if (!fs.existsSync(this.marker)) return;
    // Counted from this worker's start, not the marker's: a worker killed every few minutes
    // would otherwise begin with a full walk each time instead of catching up.
    this.since = Date.now();
    this.written = true;
    this.log.info({ file: this.marker }, 'hard-link groups may be split on the slave (recorded by the last worker): a verification pass will join them');
  }

  /**
   * Whether the next pass verifies, and why: hard-link groups left open (once the master is
   * caught up, or after waiting long enough under churn), or the periodic --verify-interval.
   */
  verifyReason(caughtUp: boolean): VerifyReason | null {
    return verifyReason({ linkDebtSince: this.since, nextLinkVerifyAt: this.nextVerifyAt, lastVerifyAt: this.lastVerifyAt, everyMs: this.everyMs }, caughtUp, Date.now());
  }

  /** A pass failed: if the marker was written, its batches may have sent copies. */
  passFailed(): void {
    if (this.written) this.since ??= Date.now();
  }

  /** Open hard-link groups after a pass: recorded (durably) or, after a verification, cleared. */
  afterPass(report: PassReport, verified: boolean, t0: number): void {
    if (verified && report.complete) {
      const ms = Date.now() - t0;
      this.lastVerifyAt = Date.now();
      const fixed = report.entryOps + report.dataFiles;
      this.log.info({ event: 'verify.done', dirsVisited: report.dirsVisited, fixed, openLinkGroups: report.linkDebt, durationMs: ms }, 'verification pass complete');
      this.onVerify?.(fixed, Date.now());
      if (report.linkDebt === 0) {
        this.since = null;
        this.verifyRounds = 0;
      } else {
        // Still open (a link count the slave cannot match?): verify again, less and less often.
        this.verifyRounds++;
        this.nextVerifyAt = nextLinkVerifyAt(Date.now(), ms, this.verifyRounds);
      }
    } else if (verified) {
      // Interrupted (churn, failures): again after a while, not pass after pass.
      this.nextVerifyAt = nextLinkVerifyAt(Date.now(), Date.now() - t0, 0);
      const gap = this.nextVerifyAt - Date.now();
      if (this.everyMs > gap) this.lastVerifyAt = Date.now() - this.everyMs + gap;
    }
    if (report.linkDebt > 0) this.since ??= Date.now();
    if (this.since !== null) this.writeMarker();
    else if (this.written) {
      fs.rmSync(this.marker, { force: true });
      this.written = false;
    }
  }

  /** Durable before the marks it covers are written on the slave (another host may outlive us). */
  writeMarker(): void {
    if (this.written || !this.marker) return;
    const fd = fs.openSync(this.marker, 'w');
    try {
      fs.writeSync(fd, `${new Date().toISOString()}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    this.written = true;
  }
}
