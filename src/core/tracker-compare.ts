// The tree tracker's index: per entry, the last state the slave CONFIRMED, and the comparison of
// a fresh directory listing with it (what a restart or a verification crawl uses to find changes
// no event reported). Pure: listings in, verdicts out.
import { joinRel, type BytePath } from './bytepath.js';
import type { EntryType, MasterEntry } from './entry.js';

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

/**
 * Object identity on a plain directory: the inode number, plus the type for non-files. A freed
 * inode is soon reused (ext4 does it at once): a new directory must not pass for a deleted file
 * that had its number (it would be "renamed" from that file's old name).
 */
export function trackerId(ino: bigint | number, type: string): string {
  return type === 'file' ? `ino:${ino}` : `ino:${ino}:${type === 'dir' ? 'd' : type === 'symlink' ? 'l' : 'o'}`;
}

/** Index record from what the engine passed when the listing's raw stat is not at hand. */
export function indexedOfMaster(e: MasterEntry): IndexedEntry {
  return {
    type: e.type, ino: /^ino:\d+/.test(e.id) ? e.id.slice(4).split(':')[0]! : UNKNOWN, size: e.size,
    mtimeNs: (BigInt(e.mtimeSec) * 1_000_000_000n + BigInt(e.mtimeNsec)).toString(),
    ctimeNs: UNKNOWN, mode: e.mode, uid: e.uid, gid: e.gid,
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

/** What a verification crawl does with one listed directory (see crawlVerdict). */
export interface CrawlVerdict {
  /** The listing differs from the confirmed index: bump it, and count it as changed. */
  readonly changed: boolean;
  /** Unchanged and without an xtime: its confirmed xtime back (the restart case), or null. */
  readonly baseline: number | null;
  /** Unchanged, but neither an xtime nor a confirmed one: bump it without counting it. */
  readonly fresh: boolean;
  /** Replaced subdirectories with a value to supersede (tracked or confirmed): bump them. */
  readonly bumpChildren: BytePath[];
}

/**
 * What a verification crawl concludes about directory `dir` from the comparison of its listing
 * with the index. `hasXtime`/`confirmedXtime` are the tracker's live table and the index.
 */
export function crawlVerdict(
  dir: BytePath,
  cmp: ListingComparison,
  hasXtime: (dir: BytePath) => boolean,
  confirmedXtime: (dir: BytePath) => number | undefined,
): CrawlVerdict {
  let baseline: number | null = null;
  let fresh = false;
  if (cmp.unchanged && !hasXtime(dir)) {
    const confirmed = confirmedXtime(dir);
    if (confirmed !== undefined) baseline = confirmed;
    else fresh = true;
  }
  const bumpChildren: BytePath[] = [];
  for (const name of cmp.replacedDirs) {
    const child = joinRel(dir, name);
    if (hasXtime(child) || confirmedXtime(child) !== undefined) bumpChildren.push(child);
  }
  return { changed: !cmp.unchanged, baseline, fresh, bumpChildren };
}
