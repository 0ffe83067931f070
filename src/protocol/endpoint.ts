// The slave contract: what the sync engine needs from a slave, local (in-process) or remote
// (RPC over SSH). Master, slave and transport all speak it; it imports none of them.
import type { BytePath } from '../core/bytepath.js';
import type { SlaveEntry } from '../core/entry.js';
import type { EntryOp, OpResult } from '../core/ops.js';
import type { Xtime } from '../core/xtime.js';

export interface SlaveIdentity {
  /** Device and inode of the root: a replaced root (new fs, new dir) changes them. */
  readonly root: string;
  readonly rootDev: string;
  readonly rootIno: string;
  readonly fsType?: string;
}

export interface RsyncTarget {
  /** Destination argument: a local directory, or `host:/path` reached through `rsh`. */
  readonly dest: string;
  /** Remote shell for rsync -e (remote slaves only). */
  readonly rsh?: string;
  /** The receiving rsync cannot set owners (a non-root slave login): no --super. */
  readonly unprivileged?: boolean;
}

export interface SlaveEndpoint {
  readonly description: string;
  identity(): Promise<SlaveIdentity>;
  list(dir: BytePath, markKey: string): Promise<SlaveEntry[] | null>;
  readMark(dir: BytePath, markKey: string): Promise<Xtime | null>;
  apply(ops: EntryOp[], markKey: string): Promise<OpResult[]>;
  rsyncTarget(): RsyncTarget;
  close(): Promise<void>;
}
