// The tree tracker's index: per entry, the last state the slave CONFIRMED, and the comparison of
// a fresh directory listing with it (what a restart or a verification crawl uses to find changes
// no event reported). Pure: listings in, verdicts out.
import type { BytePath } from './bytepath.js';
import type { EntryType } from './entry.js';

/** What the index keeps about one entry. Big numbers are decimal strings (JSON-safe, exact). */
export interface IndexedEntry {
  readonly type: EntryType;
  readonly ino: string;
  readonly size: number;
  readonly mtimeNs: string;
  readonly ctimeNs: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** The journal form: [type, ino, size, mtimeNs, ctimeNs, mode, uid, gid]. */
export type IndexTuple = [string, string, number, string, string, number, number, number];

/** The fields of a listed entry the index cares about (fs/tree's RawStat satisfies it). */
export interface ListedStat {
  readonly name: BytePath;
  readonly type: EntryType;
  readonly ino: bigint;
  readonly size: number;
  readonly mtimeSec: number;
  readonly mtimeNsec: number;
  readonly ctimeNs: bigint;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** Marks a field whose value is not known: never equal to a real one, so it reads as changed. */
export const UNKNOWN = '?';

const entryTypes: ReadonlySet<string> = new Set<EntryType>(['file', 'dir', 'symlink', 'other']);

export function indexedOf(st: ListedStat): IndexedEntry {
  return {
    type: st.type,
    ino: st.ino.toString(),
    size: st.size,
    mtimeNs: (BigInt(st.mtimeSec) * 1_000_000_000n + BigInt(st.mtimeNsec)).toString(),
    ctimeNs: st.ctimeNs.toString(),
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
  };
}

export function sameIndexed(a: IndexedEntry, b: IndexedEntry): boolean {
  return a.type === b.type && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs
    && a.ctimeNs === b.ctimeNs && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid
    && a.ino !== UNKNOWN && a.ctimeNs !== UNKNOWN && a.mtimeNs !== UNKNOWN;
}

export function encodeIndexed(e: IndexedEntry): IndexTuple {
  return [e.type, e.ino, e.size, e.mtimeNs, e.ctimeNs, e.mode, e.uid, e.gid];
}

/** null when the stored value is not a well-formed tuple (treated as "not indexed"). */
export function decodeIndexed(v: unknown): IndexedEntry | null {
  if (!Array.isArray(v) || v.length !== 8) return null;
  const [type, ino, size, mtimeNs, ctimeNs, mode, uid, gid] = v as unknown[];
  if (typeof type !== 'string' || !entryTypes.has(type)) return null;
  if (typeof ino !== 'string' || typeof mtimeNs !== 'string' || typeof ctimeNs !== 'string') return null;
  if (typeof size !== 'number' || typeof mode !== 'number' || typeof uid !== 'number' || typeof gid !== 'number') return null;
  return { type: type as EntryType, ino, size, mtimeNs, ctimeNs, mode, uid, gid };
}

/** The confirmed entries of one directory, by name. */
export interface IndexedDir {
  readonly size: number;
  get(name: BytePath): IndexedEntry | undefined;
  keys(): Iterable<BytePath>;
}

export interface ListingComparison {
  /** Nothing differs: the slave's confirmed copy of this directory is still current. */
  readonly unchanged: boolean;
  /** The directory itself has no confirmed record. */
  readonly unindexed: boolean;
  readonly added: BytePath[];
  readonly removed: BytePath[];
  /** Same name, other state (data, attributes, inode, type). */
  readonly modified: BytePath[];
  /**
   * Subdirectories that are not the directory the index knows under that name (new, another
   * inode, or formerly something else): their own subtree must be treated as changed too.
   */
  readonly replacedDirs: BytePath[];
}

/**
 * Compare a listing with the confirmed index of the same directory. `indexed` null = the
 * directory was never confirmed (everything in it is unsynced as far as we know).
 */
export function compareListing(indexed: IndexedDir | null | undefined, listing: readonly { readonly name: BytePath; readonly entry: IndexedEntry }[]): ListingComparison {
  const added: BytePath[] = [];
  const modified: BytePath[] = [];
  const replacedDirs: BytePath[] = [];
  const seen = new Set<BytePath>();
  for (const { name, entry } of listing) {
    seen.add(name);
    const old = indexed?.get(name);
    if (!old) {
      added.push(name);
      if (entry.type === 'dir') replacedDirs.push(name);
      continue;
    }
    if (!sameIndexed(old, entry)) {
      modified.push(name);
      if (entry.type === 'dir' && (old.type !== 'dir' || old.ino !== entry.ino)) replacedDirs.push(name);
    }
  }
  const removed: BytePath[] = [];
  if (indexed && indexed.size > seen.size - added.length) {
    for (const name of indexed.keys()) if (!seen.has(name)) removed.push(name);
  }
  const unindexed = !indexed;
  return { unchanged: !unindexed && added.length === 0 && removed.length === 0 && modified.length === 0, unindexed, added, removed, modified, replacedDirs };
}
