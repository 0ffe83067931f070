// What the engine knows about one directory entry, on either side.
import type { BytePath } from './bytepath.js';
import type { Xtime } from './xtime.js';

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

export interface EntryStat {
  readonly name: BytePath;
  readonly type: EntryType;
  /** Permission bits including setuid/setgid/sticky (07777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtimeSec: number;
  readonly mtimeNsec: number;
  /** Symlink target (byte string), for symlinks only. */
  readonly target?: BytePath;
  /** A regular file with holes (fewer blocks allocated than its size needs): sent with --sparse. */
  readonly sparse?: true;
}

export interface MasterEntry extends EntryStat {
  /** Stable identity of the object: the gfid on GlusterFS, `ino:<n>` on a plain directory. */
  readonly id: string;
  readonly nlink: number;
  /** Directory xtime (subtree change time); absent for non-directories. */
  readonly xtime?: Xtime;
  /** Change time (ns since the epoch) when the source knows it: an attribute-only change
   *  (xattr, ACL) moves nothing else. */
  readonly ctimeNs?: bigint;
}

export interface SlaveEntry extends EntryStat {
  /** Directory mark for this session (xtime synced up to), null when absent or unreadable. */
  readonly mark?: Xtime | null;
  /** Link count of a file that has more than one name on the slave (absent: one). */
  readonly nlink?: number;
}

export function modeBits(mode: number): number {
  return mode & 0o7777;
}

export function entryTypeOfMode(mode: number): EntryType {
  switch (mode & 0o170000) {
    case 0o100000: return 'file';
    case 0o040000: return 'dir';
    case 0o120000: return 'symlink';
    default: return 'other';
  }
}

/**
 * A file whose allocated blocks (512-byte units, st_blocks) cover less than its size has holes.
 * Wrong either way costs no data: a compressed file system can make a dense file look sparse
 * (sent with --sparse: holes written for runs of zeros), a hole-punched file written since the
 * stat can look dense (its zeros written out on the slave).
 */
export function hasHoles(type: EntryType, size: number, blocks: number): boolean {
  return type === 'file' && size > 0 && blocks * 512 < size;
}

/** Content (data) differs as rsync's quick check would see it. */
export function dataDiffers(m: EntryStat, s: EntryStat): boolean {
  return m.size !== s.size || m.mtimeSec !== s.mtimeSec || m.mtimeNsec !== s.mtimeNsec;
}

/** Metadata rsync -a would fix without sending data. */
export function attrsDiffer(m: EntryStat, s: EntryStat): boolean {
  return m.mode !== s.mode || m.uid !== s.uid || m.gid !== s.gid;
}
