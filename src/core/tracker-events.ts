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

/** What to do at once with one event of a batch, before anything touches the file system. */
export interface EventStep {
  /** Directory to bump now; null: a mangled ancestor, resolve the path before bumping anything. */
  readonly bump: BytePath | null;
  /** The path is exact: its other link names' directories are bumped too. */
  readonly exact: boolean;
  /** An exact delete: forget the path's xtime, inode and link name. */
  readonly forget: boolean;
  /** Whether it needs the file system (mangled name, or is it a new directory): 'if-tracked' = when the path has an xtime. */
  readonly resolve: 'yes' | 'no' | 'if-tracked';
}

export function eventStep(m: MappedEvent): EventStep {
  if (m.suspectFrom >= 0 && m.suspectFrom < m.textComponents.length - 1) return { bump: null, exact: false, forget: false, resolve: 'yes' };
  // The parent is exact even when the last name is mangled.
  const bump = eventDir(m.rel);
  const exact = m.suspectFrom < 0;
  if (m.type === 'delete') return { bump, exact, forget: exact, resolve: 'no' };
  if (m.rel === '') return { bump, exact, forget: false, resolve: 'no' };
  return { bump, exact, forget: false, resolve: !exact || m.type === 'create' ? 'yes' : 'if-tracked' };
}

/**
 * Many events at once: the kernel queue may have overflowed, and parcel drops that notice. A
 * burst is `threshold` events within one second; its full crawl is due once events pause for a
 * second, and at the latest 10 s after the burst began.
 */
export class BurstDetector {
  private window: { at: number; n: number }[] = [];
  private since = 0;

  constructor(private readonly threshold: number) {}

  /**
   * `n` events arrived at `now` (ms). null: no burst is on. Else when its crawl is due (ms from
   * now; a later note() supersedes it), and the event count if this call began the burst.
   */
  note(now: number, n: number): { readonly waitMs: number; readonly beganWith: number | null } | null {
    this.window.push({ at: now, n });
    while (this.window.length > 0 && this.window[0]!.at < now - 1000) this.window.shift();
    const total = this.window.reduce((s, b) => s + b.n, 0);
    let beganWith: number | null = null;
    if (total >= this.threshold && this.since === 0) {
      this.since = now;
      beganWith = total;
    }
    if (this.since === 0) return null;
    return { waitMs: Math.max(0, Math.min(1000, this.since + 10_000 - now)), beganWith };
  }

  /** The burst's crawl is starting: events from now on may begin a new burst. */
  end(): void {
    this.since = 0;
  }
}
