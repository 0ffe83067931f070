// Order one batch of decisions into the phases the slave applies them in.
// Why this order: renames first park their sources under temporary names (so swaps and cycles
// never collide), then deletes free names, mkdirs build parents before children, parked entries
// move to their targets, hard links to already-synced objects are made, data is sent, links to
// objects created by this batch's data follow, and directory attributes are set last because
// every change inside a directory bumps its mtime.
import { depthOf, type BytePath } from './bytepath.js';
import type { EntryType, MasterEntry } from './entry.js';
import type { EntryOp } from './ops.js';

export interface DataItem {
  readonly path: BytePath;
  readonly size: number;
  readonly inplace: boolean;
}

export interface Decisions {
  renames: { from: BytePath; to: BytePath }[];
  deletes: { path: BytePath; type: EntryType }[];
  mkdirs: { path: BytePath; entry: MasterEntry }[];
  /** Links whose source already exists on the slave before this batch. */
  links: { existing: BytePath; path: BytePath }[];
  /** Paths rsync sends (files, symlinks, specials); `inplace` keeps hard links on the slave. */
  data: DataItem[];
  /** Links whose source is sent by this batch's data. */
  postLinks: { existing: BytePath; path: BytePath }[];
  /** Directories whose attributes (mode, owner, mtime) must match the master's after the batch. */
  dirAttrs: { path: BytePath; entry: MasterEntry }[];
}

export function emptyDecisions(): Decisions {
  return { renames: [], deletes: [], mkdirs: [], links: [], data: [], postLinks: [], dirAttrs: [] };
}

export function decisionCount(d: Decisions): number {
  return d.renames.length + d.deletes.length + d.mkdirs.length + d.links.length + d.data.length +
    d.postLinks.length;
}

export interface BatchPlan {
  /** Entry ops before data, in order. */
  readonly before: EntryOp[];
  readonly data: DataItem[];
  /** Entry ops after data, in order. */
  readonly after: EntryOp[];
  /**
   * Directories whose attributes rsync sets last (rsync sets nanosecond times; Node's utimes
   * cannot), after every change inside them. '.' is the root.
   */
  readonly dirs: BytePath[];
}

/**
 * Name a rename source is parked under while the batch runs: at the slave root, unique per
 * batch and index. At the root because the source's own directory may be deleted or renamed by
 * the same batch (a parked entry must survive both).
 */
export function parkingName(batchTag: string, i: number): BytePath {
  return `.gsyncd-rename-${batchTag}-${i}`;
}

export function planBatch(d: Decisions, batchTag: string): BatchPlan {
  const before: EntryOp[] = [];
  // Deepest sources first: parking `a` before `a/b` would make `a/b` unreachable.
  const parked = d.renames.map((r, i) => ({ ...r, parking: parkingName(batchTag, i) }))
    .sort((a, b) => depthOf(b.from) - depthOf(a.from));
  for (const r of parked) before.push({ op: 'rename', from: r.from, to: r.parking });
  // Deepest first so a directory's children go before it (the slave purges recursively anyway).
  const deletes = [...d.deletes].sort((a, b) => depthOf(b.path) - depthOf(a.path));
  for (const x of deletes) before.push({ op: 'delete', path: x.path, type: x.type });
  const mkdirs = [...d.mkdirs].sort((a, b) => depthOf(a.path) - depthOf(b.path));
  for (const m of mkdirs) {
    before.push({ op: 'mkdir', path: m.path, mode: m.entry.mode, uid: m.entry.uid, gid: m.entry.gid });
  }
  // Parked renames go out shallowest target first so a renamed directory exists before
  // anything is moved into it.
  const targets = [...parked].sort((a, b) => depthOf(a.to) - depthOf(b.to));
  for (const r of targets) before.push({ op: 'rename', from: r.parking, to: r.to });
  for (const l of d.links) before.push({ op: 'link', existing: l.existing, path: l.path });

  const after: EntryOp[] = [];
  for (const l of d.postLinks) after.push({ op: 'link', existing: l.existing, path: l.path });
  const dirs = [...new Set(d.dirAttrs.map((x) => x.path))].sort((a, b) => depthOf(b) - depthOf(a)).map((p) => (p === '' ? '.' : p));
  return { before, data: d.data, after, dirs };
}
