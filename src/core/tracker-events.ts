// From watcher events (@parcel/watcher: UTF-8 text paths) to the directories whose xtime must
// move. Pure: the tracker resolves what needs the file system (mangled names, "is it a dir").
import { parentOf, type BytePath } from './bytepath.js';

export type WatchEventType = 'create' | 'update' | 'delete';

/** What one event means for the tracker. */
export interface MappedEvent {
  readonly type: WatchEventType;
  /** Byte path relative to the root ('' = the root itself). */
  readonly rel: BytePath;
  /**
   * Index of the first path component that may have been mangled (a non-UTF-8 name decoded
   * to U+FFFD: the bytes are lost), or -1 when the path is exact.
   */
  readonly suspectFrom: number;
  /** The components as the watcher gave them (text), for matching against real names. */
  readonly textComponents: readonly string[];
}

const REPLACEMENT_CHAR = '\uFFFD';

/**
 * Map a watcher path (absolute, text) under `root` (absolute, normalized, no trailing slash) to
 * a byte path. null when it is not under the root.
 */
export function mapEventPath(root: string, type: WatchEventType, path: string): MappedEvent | null {
  let relText: string;
  if (path === root) relText = '';
  else if (path.startsWith(root === '/' ? '/' : root + '/')) relText = path.slice(root === '/' ? 1 : root.length + 1);
  else return null;
  const textComponents = relText === '' ? [] : relText.split('/');
  let suspectFrom = -1;
  for (let i = 0; i < textComponents.length; i++) {
    if (textComponents[i]!.includes(REPLACEMENT_CHAR)) {
      suspectFrom = i;
      break;
    }
  }
  return { type, rel: Buffer.from(relText, 'utf8').toString('latin1'), suspectFrom, textComponents };
}

/** The directory whose listing an event changes: the parent (the root for the root itself). */
export function eventDir(rel: BytePath): BytePath {
  return rel === '' ? '' : parentOf(rel);
}

/**
 * Order for processing one batch: deletes first, deepest first (so a removed directory's own
 * delete comes after its children's), then creates and updates, shallowest first (parents are
 * known before their children).
 */
export function orderEvents<T extends MappedEvent>(events: readonly T[]): T[] {
  const depth = (e: MappedEvent) => (e.rel === '' ? 0 : e.rel.split('/').length);
  const deletes = events.filter((e) => e.type === 'delete').sort((a, b) => depth(b) - depth(a));
  const others = events.filter((e) => e.type !== 'delete').sort((a, b) => depth(a) - depth(b));
  return [...deletes, ...others];
}

/** Whether a byte name is what the watcher showed as `text` (its lossy UTF-8 decoding). */
export function nameMatchesText(name: Buffer, text: string): boolean {
  return name.toString('utf8') === text;
}

/**
 * Keep only the outermost of a set of directories (a subtree check of `a` covers `a/b`).
 */
export function outermost(dirs: Iterable<BytePath>): BytePath[] {
  const depth = (d: BytePath) => (d === '' ? 0 : d.split('/').length);
  const sorted = [...new Set(dirs)].sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0));
  const chosen = new Set<BytePath>();
  for (const d of sorted) {
    let covered = false;
    for (let a = d; ; a = parentOf(a)) {
      if (chosen.has(a)) { covered = true; break; }
      if (a === '') break;
    }
    if (!covered) chosen.add(d);
  }
  return [...chosen];
}
