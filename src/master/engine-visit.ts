// Entry-op planning: one directory's listings (master and slave) become batch decisions, with
// names the slave already holds elsewhere turned into renames and hard links (core/renames-links.ts
// decides which) instead of copies.
import { displayPath, joinRel, parentOf, type BytePath } from '../core/bytepath.js';
import { diffDirectory, type DirDiff } from '../core/diff.js';
import type { MasterEntry } from '../core/entry.js';
import { extraNameVerdict } from '../core/extra-names.js';
import { oldNameVerdict, renameNeedsData, sendsInPlace, splitLinkNames, takenNameVerdict } from '../core/renames-links.js';
import { rootEmptiedHalt } from '../core/safety.js';
import { xtimeNewer } from '../core/xtime.js';
import { vanishedNames } from '../fs/tree.js';
import { childVisit, sparseOf, type Batch, type Deferred, type EngineContext, type Listings, type Visit } from './engine-state.js';

/** Turn the difference of one directory's listings (both sides) into batch decisions. */
export async function visit(ctx: EngineContext, v: Visit, [masterList, slaveList]: Listings, batch: Batch, deferred: Deferred[], report: { dirsVisited: number; scanned: number; failures: string[] }, everSynced: boolean, verify: boolean): Promise<Visit[] | 'halt'> {
  report.dirsVisited++;
  if (!masterList) {
    // Gone on the master since its parent was listed (removed, renamed, or replaced). Only it
    // stays unmarked: its removal moved the xtimes of its parent and every ancestor past the
    // values read before their listings, so the marks they get now still bring the next pass
    // back here. Failing them too kept the root unmarked under steady churn, and synced-up-to
    // with it.
    v.incomplete = true;
    return [];
  }
  if (v.dir === '' && rootEmptiedHalt(masterList.length, slaveList?.length ?? 0, everSynced)) return 'halt';
  report.scanned += masterList.length;
  ctx.events.onScanned?.(masterList.length);
  v.entries = masterList;
  batch.visits.push(v);
  const diff = diffDirectory(v.dir, masterList, slaveList, v.stime, verify);
  const attrOnly = await attributeOnlyChanges(ctx, v, diff, masterList);
  for (const m of diff.markAhead) {
    ctx.log.error({ dir: displayPath(joinRel(v.dir, m.name)) }, 'slave mark is newer than the master xtime: resyncing this directory');
  }
  const d = batch.decisions;
  const own = (p: BytePath) => { batch.owner.set(p, v); v.changed = true; };
  const missingNames = new Set(diff.missing.map((m) => m.name));
  // Names that vanished on the master while this directory was listed (a rename in progress,
  // most likely: its new name may not be in this listing yet). They are kept on the slave for
  // now: the change came after the xtime read before the listing, so the next pass revisits
  // this directory and then either moves them (rename) or deletes them.
  const vanished = vanishedNames(masterList);
  for (const s of diff.extra) {
    const path = joinRel(v.dir, s.name);
    ctx.slaveExtras.set(path, s);
    const verdict = extraNameVerdict(s.name, missingNames, vanished ?? null, ctx.cfg.ignoreDeletes);
    if (verdict === 'delete-now') {
      d.deletes.push({ path, type: s.type }); // type swap: the name is reused right away
      own(path);
    } else if (verdict === 'defer') {
      deferred.push({ path, type: s.type, owner: v }); // might still be a rename source
      ctx.deferredDirs.add(v.dir);
    }
  }
  const children: Visit[] = [];
  for (const m of diff.missing) {
    const path = joinRel(v.dir, m.name);
    own(path);
    batch.created.push(path);
    const renamedFrom = await resolveExisting(ctx, m, path, batch, v.dir, masterList);
    if (m.type === 'dir') {
      if (!renamedFrom) {
        d.mkdirs.push({ path, entry: m });
        d.dirAttrs.push({ path, entry: m }); // its mtime is set even if it stays empty
      }
      children.push(childVisit(v, m, !!renamedFrom, null, !renamedFrom));
    }
  }
  if (attrOnly) {
    // The directory's own attributes may be what changed: they are set again at the flush.
    v.changed = true;
    for (const m of attrOnly) {
      const path = joinRel(v.dir, m.name);
      own(path);
      addData(ctx, batch, path, m, true); // rsync's quick check: attributes only
    }
  }
  for (const m of diff.changed) {
    const path = joinRel(v.dir, m.name);
    own(path);
    const taken = takenNameVerdict(m, ctx.ids.idAt(path), () => ctx.ids.pathsOf(m.id).some((p) => p !== path) || batch.sentIds.has(m.id));
    if (taken !== 'same') {
      // Another object took this name: never write into the slave's inode here (see takenNameVerdict).
      if (taken === 'replace-by-existing') {
        d.deletes.push({ path, type: 'file' });
        await resolveExisting(ctx, m, path, batch, v.dir, masterList);
      } else {
        // A fresh inode, with the old content as rsync's delta basis.
        d.data.push({ path, size: m.size, inplace: false, ...sparseOf(m) });
        batch.dataBytes += m.size;
        batch.sentIds.set(m.id, path);
      }
      continue;
    }
    addData(ctx, batch, path, m, diff.sameData.has(m.name));
  }
  // A link group the slave holds as separate copies (broken before the id map knew all its
  // names): the others follow this name, whose copy is current or made current (in place)
  // by this batch before the relinks run.
  for (const m of splitLinkNames(masterList, slaveList, missingNames)) {
    const path = joinRel(v.dir, m.name);
    batch.linkCandidates.set(m.id, m.nlink);
    const first = batch.sentIds.get(m.id);
    if (first !== undefined) {
      // Another name of it is sent or joined by this batch: this one follows it.
      if (first !== path) batch.relinks.push({ existing: first, path, id: m.id });
      continue;
    }
    await relinkPartners(ctx, batch, m, path);
    batch.sentIds.set(m.id, path); // its other new names link to this one
  }
  for (const m of diff.dirAttrs) {
    // Setting a subdirectory's attributes leaves this directory's own times alone: it owns the
    // op (its failure is this visit's) but is not changed by it. Except the root: no listing
    // compares its own attributes, so they are set again whenever it has work, this included.
    const path = joinRel(v.dir, m.name);
    if (v.parent === null) own(path);
    else batch.owner.set(path, v);
    d.dirAttrs.push({ path, entry: m });
  }
  for (const { entry, stime } of diff.descend) children.push(childVisit(v, entry, false, stime));
  return children;
}

/**
 * A directory whose xtime moved although its listing shows no change and no subdirectory
 * accounts for it: something changed that a stat does not show, an extended attribute or ACL
 * of one of its files (or of itself). Sources that cannot tell by the change time (GlusterFS
 * keeps ctime still on setxattr) answer with per-entry xtimes, read only in this case.
 */
async function attributeOnlyChanges(ctx: EngineContext, v: Visit, diff: DirDiff, listing: readonly MasterEntry[]): Promise<MasterEntry[] | null> {
  const { stime, xtime } = v;
  if (!ctx.master.entryXtimes || !stime || stime.sec < 0 || !xtime || !xtimeNewer(xtime, stime)) return null;
  if (diff.missing.length || diff.extra.length || diff.changed.length || diff.dirAttrs.length) return null;
  if (diff.descend.some((c) => !c.entry.xtime || !xtimeNewer(xtime, c.entry.xtime))) return null;
  const files = listing.filter((e) => e.type === 'file');
  const xtimes = await ctx.master.entryXtimes(v.dir, files.map((e) => e.name));
  return files.filter((e) => { const x = xtimes.get(e.name); return !!x && xtimeNewer(x, stime); });
}

/**
 * A master entry the slave lacks under this name may be an object the slave already holds
 * elsewhere: moved (rename it there) or given another name (hard link). Returns the rename source.
 */
async function resolveExisting(ctx: EngineContext, m: MasterEntry, path: BytePath, batch: Batch, dir: BytePath, listing: readonly MasterEntry[]): Promise<BytePath | null> {
  const d = batch.decisions;
  // A symlink (or fifo, device) carries no data: created afresh, never renamed or linked. That
  // also sidesteps hard links to symlinks, which rsync would otherwise have to recreate.
  if (m.type !== 'file' && m.type !== 'dir') {
    addData(ctx, batch, path, m);
    return null;
  }
  let byName: Map<BytePath, MasterEntry> | undefined;
  for (const p of ctx.ids.pathsOf(m.id)) {
    if (p === path || batch.renamed.has(p)) continue;
    // Is the old name still this object on the master? A name in the directory being visited
    // is answered by its listing (read just now); elsewhere by a lookup.
    let now: MasterEntry | null;
    if (parentOf(p) === dir) {
      byName ??= new Map(listing.map((e) => [joinRel(dir, e.name), e]));
      now = byName.get(p) ?? null;
    } else {
      now = await ctx.master.lookup(p);
    }
    const verdict = oldNameVerdict(m, now);
    if (verdict === 'still-there') continue; // a directory has one name; that one is still in place
    if (verdict === 'link') {
      d.links.push({ existing: p, path });
      // Its content may have changed too (in place keeps the link). Also when the link count
      // says 1: a FUSE listing may report it stale, or the old name was renamed away right
      // after the lookup; only rsync's check keeps an old copy from passing as synced.
      addData(ctx, batch, path, m);
      return null;
    }
    d.renames.push({ from: p, to: path });
    batch.renamed.add(p);
    batch.touchedDirs.add(parentOf(p));
    // If the rename fails (source gone), the data is sent after all (see flush).
    const old = ctx.slaveExtras.get(p);
    ctx.slaveExtras.delete(p);
    if (renameNeedsData(m, old)) addData(ctx, batch, path, m, true); // moved: most likely the same content
    // Further new names of this object in the batch link to the renamed one, not get a copy.
    if (m.type === 'file') batch.sentIds.set(m.id, path);
    return p;
  }
  if (m.type === 'dir') return null;
  // Another new name of an object this batch already sends: a hard link. Decided by identity,
  // not by the link count, which a FUSE listing may report stale.
  const first = m.type === 'file' ? batch.sentIds.get(m.id) : undefined;
  if (first !== undefined) {
    d.postLinks.push({ existing: first, path });
    return null;
  }
  addData(ctx, batch, path, m);
  if (m.type === 'file') {
    batch.sentIds.set(m.id, path);
    // A copy: its other names, if any, are not known to be on the slave.
    if (m.nlink > 1) batch.linkCandidates.set(m.id, m.nlink);
  }
  return null;
}

/**
 * Names of a linked file the slave may hold as separate copies (the group split while the id
 * map did not know all of them: forgotten as in doubt after a kill, or not yet confirmed)
 * become links of `path` once its data is sent. The partners are the names the id map knows
 * and the master still has for this object. (GlusterFS can name every link of a file, the
 * `glusterfs.gfidtopath` virtual xattr, but asking it while names are being renamed crashed
 * the brick here, GlusterFS 10.3: never used.)
 */
export async function relinkPartners(ctx: EngineContext, batch: Batch, m: MasterEntry, path: BytePath): Promise<void> {
  for (const p of [...ctx.ids.pathsOf(m.id)]) {
    if (p === path || batch.renamed.has(p) || batch.relinks.some((r) => r.path === p && r.existing === path)) continue;
    const now = await ctx.master.lookup(p);
    if (now?.id === m.id) batch.relinks.push({ existing: path, path: p, id: m.id });
  }
}

function addData(ctx: EngineContext, batch: Batch, path: BytePath, m: MasterEntry, sameData = false): void {
  const inplace = sendsInPlace(m, m.type === 'file' ? ctx.ids.pathsOf(m.id).length : 0);
  batch.decisions.data.push({ path, size: m.type === 'file' ? m.size : 0, inplace, ...sparseOf(m), ...(sameData ? { sameData } : {}), ...(m.type === 'other' ? { special: true } : {}) });
  batch.dataBytes += m.type === 'file' ? m.size : 0;
}
