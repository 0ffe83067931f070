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
  /** The file has holes: its run keeps them (--sparse; rsync then checks every block for zeros). */
  readonly sparse?: true;
  /**
   * The slave's copy most likely has this content already (only attributes, xattrs or ACLs
   * changed; a renamed file): rsync's quick check sends ~0 bytes, a tar stream the whole file.
   */
  readonly sameData?: boolean;
  /** A fifo, socket or device: tar skips sockets (with exit 0), rsync -D makes them all. */
  readonly special?: boolean;
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
  // A rename none of whose paths is related (equal, above, below) to a path of any other
  // rename, delete, mkdir or link of the batch cannot collide with anything: it goes in one
  // step, in the unpark phase. The others are parked first (swaps, cycles, chains, renames out
  // of deleted or renamed directories, into new ones).
  const direct = independentRenames(d);
  // Deepest sources first: parking `a` before `a/b` would make `a/b` unreachable.
  const parked = d.renames.map((r, i) => ({ ...r, parking: parkingName(batchTag, i) }))
    .filter((_, i) => !direct.has(i))
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
  for (const i of direct) before.push({ op: 'rename', from: d.renames[i]!.from, to: d.renames[i]!.to });
  for (const l of d.links) before.push({ op: 'link', existing: l.existing, path: l.path });

  const after: EntryOp[] = [];
  for (const l of d.postLinks) after.push({ op: 'link', existing: l.existing, path: l.path });
  const dirs = [...new Set(d.dirAttrs.map((x) => x.path))].sort((a, b) => depthOf(b) - depthOf(a)).map((p) => (p === '' ? '.' : p));
  return { before, data: d.data, after, dirs };
}

/**
 * Indices of the renames whose source and target are each unrelated to every path of the
 * batch's other entry decisions (renames, deletes, mkdirs, links): moving them directly, at any
 * point of the entry phase, gives what parking them would.
 */
function independentRenames(d: Decisions): Set<number> {
  const out = new Set<number>();
  if (d.renames.length === 0) return out;
  // How often each path is named, and how often each is a proper ancestor of a named path
  // (the root, above everything and never moved, does not count).
  const named = new Map<BytePath, number>();
  const above = new Map<BytePath, number>();
  const add = (p: BytePath) => {
    named.set(p, (named.get(p) ?? 0) + 1);
    for (const a of properAncestors(p)) above.set(a, (above.get(a) ?? 0) + 1);
  };
  for (const r of d.renames) { add(r.from); add(r.to); }
  for (const x of d.deletes) add(x.path);
  for (const m of d.mkdirs) add(m.path);
  for (const l of d.links) { add(l.existing); add(l.path); }
  d.renames.forEach((r, i) => {
    if (r.from === r.to || r.from === '' || r.to === '') return;
    const own = [r.from, r.to];
    const ok = own.every((p) => {
      // Named once (by this rename); above nothing but what this rename names itself.
      const selfAbove = own.filter((q) => q !== p && properAncestors(q).includes(p)).length;
      return named.get(p) === 1 && (above.get(p) ?? 0) === selfAbove && properAncestors(p).every((a) => !named.has(a));
    });
    if (ok) out.add(i);
  });
  return out;
}

/** Proper ancestors of a relative path, the root excluded. */
function properAncestors(p: BytePath): BytePath[] {
  const out: BytePath[] = [];
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) out.push(p.slice(0, i));
  return out;
}
