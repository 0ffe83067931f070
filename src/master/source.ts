// What the sync engine needs from a master, whichever kind it is (GlusterFS volume or directory).
import type { BytePath } from '../core/bytepath.js';
import type { MasterEntry } from '../core/entry.js';
import type { HaltReason } from '../core/safety.js';
import type { Xtime } from '../core/xtime.js';

export interface MasterSource {
  readonly kind: 'gluster' | 'file';
  /** Local directory the data is read from (rsync's source). Valid after start(). */
  readonly root: string;
  /** Identity of the master for mark names: the volume UUID, or the tracker's own id. */
  readonly volumeId: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The root's xtime, read before a pass lists anything; null = no xtime yet (indexing off). */
  rootXtime(): Promise<Xtime | null>;
  /**
   * Entries of a directory, subdirectories with their xtime; null when it is not there.
   * `fresh`: nothing of it is on the slave yet (this pass creates it), which a source may list
   * more cheaply.
   */
  list(dir: BytePath, opts?: { readonly fresh?: boolean }): Promise<MasterEntry[] | null>;
  /** Xtimes of some entries of `dir` (null: none), for sources whose change time misses
   *  attribute-only changes (GlusterFS). Optional. */
  entryXtimes?(dir: BytePath, names: readonly BytePath[]): Promise<Map<BytePath, Xtime | null>>;
  /** The master entry at `path`, if any (used to tell a rename from a new hard link). */
  lookup(path: BytePath): Promise<MasterEntry | null>;
  /** The slave confirmed `dir` as listed: a tracker records it as synced (after flush()). */
  confirmDir(dir: BytePath, entries: MasterEntry[]): void;
  /** Make confirmations durable; called before the slave's marks move. */
  flush(): Promise<void>;
  /**
   * A reason to stop before anything is mirrored (lost mount, replaced root...), or null.
   * `afterRootXtime`: an idle poll, whose root xtime was just read fine: a source may skip what
   * that read already proves (the mount answers and is the volume's).
   */
  safetyCheck(opts?: { readonly afterRootXtime?: boolean }): Promise<HaltReason | null>;
  /** The operator confirmed a replaced root (--resume-halted): trust the new one. Optional. */
  acceptRootChange?(): Promise<void>;
  /** Try to get back after a 'mount_missing' safety check (e.g. remount). Optional. */
  recover?(): Promise<void>;
  /**
   * A cached view of the same data for rsync to read from (GlusterFS: a second mount with kernel
   * caching), and how long after a change was observed a read through it is sure to see it.
   * null: none (use `root`). Optional.
   */
  readMount?(): Promise<{ root: string; settleMs: number } | null>;
  /** Resolve after `ms`, or earlier when the source knows something changed. */
  waitForChange(ms: number): Promise<void>;
}
