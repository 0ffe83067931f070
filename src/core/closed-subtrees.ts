// Which visited directories of a pass are closed, and the order their marks are written in.
// Pure: the pass's visit tree in, decisions out. A subtree is closed when nothing of it is still
// to visit or apply; stamping it then (not at the end of the pass) means a worker killed later in
// a long pass does not redo it.

/** What a pass knows of one visited directory, as far as closing it goes. */
export interface SubtreeVisit {
  readonly parent: SubtreeVisit | null;
  /** Its batch was applied (whatever failed of it is known). */
  readonly flushed: boolean;
  /** Its mark was written in this pass. */
  readonly marked: boolean;
  /** Not listed (gone since its parent's listing): nothing of it is waited for. */
  readonly incomplete: boolean;
}

/**
 * Visited directories whose whole subtree is done: applied, nothing of it still to visit
 * (`pending`), and no deferred delete in it (`deleteOwners`: those run at the end of the pass).
 * The root is never among them: it is the pass's own result, stamped after the last batch and
 * the deletes.
 */
export function closedVisits<V extends SubtreeVisit>(all: readonly V[], pending: readonly SubtreeVisit[], deleteOwners: readonly SubtreeVisit[]): Set<V> {
  const blocked = new Set<SubtreeVisit>();
  const block = (v: SubtreeVisit) => { for (let p: SubtreeVisit | null = v; p && !blocked.has(p); p = p.parent) blocked.add(p); };
  for (const v of pending) block(v);
  for (const v of deleteOwners) block(v);
  for (const v of all) if (!v.flushed && !v.incomplete) block(v);
  return new Set(all.filter((v) => v.parent !== null && v.flushed && !v.marked && !blocked.has(v)));
}

/** Anything that knows its parent directory's visit. */
export interface Parented { readonly parent: Parented | null }

/** How far below the root a visit is (the root: 0). */
export function visitDepth(v: Parented): number {
  let n = 0;
  for (let p = v.parent; p; p = p.parent) n++;
  return n;
}

/**
 * Marks in the order they are written: deepest first, so that a parent's mark never claims
 * more than its children's at any moment (a crash between two writes leaves no false claim).
 */
export function marksDeepestFirst<V extends Parented, X>(marks: [V, X][]): [V, X][] {
  return marks.sort(([a], [b]) => visitDepth(b) - visitDepth(a));
}
