// Hard links and inotify: a write through one name is reported only in the directory of that
// name, yet every directory holding another name of the same file now lists changed data. The
// tracker keeps, for files with more than one link, the names it has seen per object, so an event
// on one name bumps the directories of all of them. Pure bookkeeping; only multi-link files are
// kept, so the cost is nil on trees without hard links.
import { isWithin, type BytePath } from './bytepath.js';

export class LinkGroups {
  private readonly groups = new Map<string, Set<BytePath>>();
  private readonly keyOf = new Map<BytePath, string>();

  /** Names known for multi-link objects. */
  get size(): number {
    return this.keyOf.size;
  }

  /**
   * What a listing or lstat says about `path`: `key` identifies the object (dev:ino) when it is
   * a regular file with more than one link, null otherwise. Returns the object's other known names.
   */
  note(path: BytePath, key: string | null): BytePath[] {
    const old = this.keyOf.get(path);
    if (old !== undefined && old !== key) this.remove(path);
    if (key === null) return [];
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = new Set()));
    g.add(path);
    this.keyOf.set(path, key);
    return [...g].filter((p) => p !== path);
  }

  /** Other known names of the object at `path` (empty when it has none). */
  others(path: BytePath): BytePath[] {
    const key = this.keyOf.get(path);
    if (key === undefined) return [];
    return [...this.groups.get(key)!].filter((p) => p !== path);
  }

  /** `path` is gone (or no longer a multi-link file). */
  remove(path: BytePath): void {
    const key = this.keyOf.get(path);
    if (key === undefined) return;
    this.keyOf.delete(path);
    const g = this.groups.get(key)!;
    g.delete(path);
    if (g.size === 0) this.groups.delete(key);
  }

  /** Forget names under `dir` that `keep` rejects (after a crawl of `dir`). */
  retainWithin(dir: BytePath, keep: (path: BytePath) => boolean): void {
    for (const p of [...this.keyOf.keys()]) if (isWithin(p, dir) && !keep(p)) this.remove(p);
  }
}

/** The group key of an lstat result, or null when it is not a regular file with other links. */
export function linkKey(st: { readonly type: string; readonly nlink: number; readonly dev: bigint; readonly ino: bigint }): string | null {
  return st.type === 'file' && st.nlink > 1 ? `${st.dev}:${st.ino}` : null;
}
