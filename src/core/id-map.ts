// Which object (master identity) the slave holds at which path, as last confirmed. Lets a create
// on the master be recognised as a rename or a new hard link of something the slave already has.
import type { BytePath } from './bytepath.js';

export class IdMap {
  private readonly byPath = new Map<BytePath, string>();
  private readonly byId = new Map<string, Set<BytePath>>();
  /** Paths changed since the last drainChanges(): new id, or undefined when forgotten. */
  private changes = new Map<BytePath, string | undefined>();

  get size(): number {
    return this.byPath.size;
  }

  idAt(path: BytePath): string | undefined {
    return this.byPath.get(path);
  }

  pathsOf(id: string): BytePath[] {
    return [...(this.byId.get(id) ?? [])];
  }

  set(path: BytePath, id: string): boolean {
    const old = this.byPath.get(path);
    if (old === id) return false;
    if (old !== undefined) this.unlinkId(old, path);
    this.byPath.set(path, id);
    let paths = this.byId.get(id);
    if (!paths) this.byId.set(id, (paths = new Set()));
    paths.add(path);
    this.changes.set(path, id);
    return true;
  }

  delete(path: BytePath): boolean {
    const old = this.byPath.get(path);
    if (old === undefined) return false;
    this.byPath.delete(path);
    this.unlinkId(old, path);
    this.changes.set(path, undefined);
    return true;
  }

  /** Forget `dir` and everything below it; returns the paths forgotten. */
  deleteSubtree(dir: BytePath): BytePath[] {
    return this.deleteSubtrees([dir]);
  }

  /**
   * Forget each of `dirs` and everything below them, in one scan of the map (not one per
   * directory: a batch deleting thousands of names must not be O(n²)). Returns the paths forgotten.
   */
  deleteSubtrees(dirs: Iterable<BytePath>): BytePath[] {
    const roots = new Set(dirs);
    if (roots.size === 0) return [];
    const gone: BytePath[] = [];
    if (roots.has('')) gone.push(...this.byPath.keys());
    else {
      for (const p of this.byPath.keys()) if (underAny(p, roots)) gone.push(p);
    }
    for (const p of gone) this.delete(p);
    return gone;
  }

  /** What changed since the last call (for persisting incrementally). */
  drainChanges(): Map<BytePath, string | undefined> {
    const c = this.changes;
    this.changes = new Map();
    return c;
  }

  entries(): IterableIterator<[BytePath, string]> {
    return this.byPath.entries();
  }

  private unlinkId(id: string, path: BytePath): void {
    const paths = this.byId.get(id);
    paths?.delete(path);
    if (paths && paths.size === 0) this.byId.delete(id);
  }
}

/** Whether `p` is one of `roots` or lies below one of them. */
function underAny(p: BytePath, roots: ReadonlySet<BytePath>): boolean {
  if (roots.has(p)) return true;
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) if (roots.has(p.slice(0, i))) return true;
  return false;
}
