// What the tree tracker offers besides MasterSource: its options, its crawl progress reports
// and its status.
import type { BytePath } from '../core/bytepath.js';
import type { EngineLog } from '../log/logger.js';

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
