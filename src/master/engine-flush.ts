// Applying one batch: entry ops before the data, the data, links after it, link groups made
// whole, directory attributes; then what the slave confirmed is recorded (id map, tracker) and
// what failed leaves its directory unmarked.
import { displayPath, joinRel, parentOf, type BytePath } from '../core/bytepath.js';
import type { MasterEntry } from '../core/entry.js';
import { opPaths, type EntryOp } from '../core/ops.js';
import { planBatch, type DataItem } from '../core/plan.js';
import { linkGroupOpen } from '../core/renames-links.js';
import type { BatchSummary } from './engine-contract.js';
import { dedupeByPath, listedAt, opTarget, sparseOf, type Batch, type EngineContext } from './engine-state.js';
import { applyOps, dataRoot, sendData, syncDirAttrs } from './engine-transfer.js';
import { relinkPartners } from './engine-visit.js';

/** Apply one batch: entry ops, data, links and directory attributes; record what failed. */
export async function flush(ctx: EngineContext, batch: Batch, report: { entryOps: number; dataFiles: number; bytesSent: number; failures: string[]; churn: string[] }): Promise<void> {
  const started = Date.now();
  const tag = `${process.pid.toString(36)}${(++ctx.batchSeq).toString(36)}`;
  const d = batch.decisions;
  for (const v of batch.visits) if (v.changed && v.entry) d.dirAttrs.push({ path: v.dir, entry: v.entry });
  for (const dir of batch.touchedDirs) {
    const e = await ctx.master.lookup(dir);
    if (e && e.type === 'dir') d.dirAttrs.push({ path: dir, entry: e });
  }
  d.dirAttrs = dedupeByPath(d.dirAttrs);
  // A directory whose extra names are deleted at the end of the pass has its times set again
  // after those deletes: setting them now too only cost an rsync run (~0.3 s over ssh) before
  // the deletes could start.
  d.dirAttrs = d.dirAttrs.filter((x) => {
    if (!ctx.deferredDirs.has(x.path)) return true;
    ctx.attrsAfterDeletes.add(x.path);
    return false;
  });
  const plan = planBatch(d, tag);
  let failures = 0;
  const fail = (path: BytePath, why: string, errno?: string) => {
    failures++;
    (errno === 'ENOENT' ? report.churn : report.failures).push(`${displayPath(path)}: ${why}`);
    const owner = batch.owner.get(path) ?? batch.visits.find((v) => v.dir === parentOf(path));
    if (owner) owner.failed = true;
    else for (const v of batch.visits) v.failed = true; // cannot attribute it: trust nothing
  };
  const before = await applyOps(ctx, plan.before);
  const resend: DataItem[] = [];
  /** Files sent as copies after a link failed: their other names are linked to them (relinkPartners). */
  const copies: [MasterEntry, BytePath][] = [];
  before.forEach(([op, r]) => {
    if (r.ok) {
      if (op.op === 'rename' && !op.from.startsWith('.gsyncd-rename-')) ctx.movedAway.add(op.from);
      return;
    }
    // A rename/link source that is gone (stale id map) falls back to sending the data.
    if ((op.op === 'rename' || op.op === 'link') && r.errno === 'ENOENT') {
      const target = op.op === 'rename' ? op.to : op.path;
      const src = op.op === 'rename' ? op.from : op.existing;
      ctx.ids.delete(src);
      if (!target.includes('.gsyncd-rename-')) {
        const m = listedAt(batch, target);
        if (m && m.type !== 'dir') {
          resend.push({ path: target, size: m.size, inplace: false, ...sparseOf(m) });
          if (m.type === 'file' && m.nlink > 1) copies.push([m, target]);
          return;
        }
        if (m) { fail(target, 'renamed directory source vanished; recreating next pass', 'ENOENT'); return; }
      }
      return; // a parked name: the second half of the rename reports it
    }
    fail(opTarget(op), r.message, r.errno);
  });
  const data = [...plan.data, ...resend].filter((x) => !batch.owner.get(x.path)?.failed);
  const root = await dataRoot(ctx, batch, data.length);
  // The data's rsync runs take the directories' attributes along (see dirsAlongRuns): a run of
  // its own cost 0.4-0.5 s over ssh, most of a small change's latency, and several seconds for
  // a batch of new directories. Not when ops after the data (links, relinks) change directories
  // again. The read mount is as fresh for a directory's attributes as for the data it reads
  // (settled since the listings), and the root goes in a run of its own (syncDirAttrs).
  const attrsAlong = plan.after.length === 0 && batch.relinks.length === 0 && copies.length === 0
    ? plan.dirs.filter((p) => p !== '.') : [];
  const sent = await sendData(ctx, data, root, ctx.cfg.syncJobs, attrsAlong);
  let bytesSent = sent.bytesSent;
  for (const [path, why, errno] of sent.failed) fail(path, why, errno);
  const after = await applyOps(ctx, plan.after);
  // A new name linked to a file this batch sent, which vanished on the master meanwhile (rsync
  // skipped it): the name gets its own copy now; a later pass links it again where the object went.
  const orphans: DataItem[] = [];
  for (const [op, r] of after) {
    if (r.ok) continue;
    if (op.op === 'link' && r.errno === 'ENOENT' && !batch.owner.get(op.path)?.failed) {
      const m = listedAt(batch, op.path);
      if (m && m.type === 'file') {
        orphans.push({ path: op.path, size: m.size, inplace: false, ...sparseOf(m) });
        if (m.nlink > 1) copies.push([m, op.path]);
        continue;
      }
    }
    fail(opTarget(op), r.message, r.errno);
  }
  if (orphans.length > 0) {
    const second = await sendData(ctx, orphans, await dataRoot(ctx, batch, orphans.length));
    for (const [path, why, errno] of second.failed) fail(path, why, errno);
    bytesSent += second.bytesSent;
  }
  for (const [m, path] of copies) {
    batch.linkCandidates.set(m.id, m.nlink);
    await relinkPartners(ctx, batch, m, path);
  }
  await applyRelinks(ctx, batch, plan.dirs);
  const along = new Set(attrsAlong);
  const dirsLeft = [...plan.dirs.filter((p) => !along.has(p)), ...sent.dirsLeft];
  for (const [path, why, errno] of await syncDirAttrs(ctx, dirsLeft)) fail(path, why, errno);

  // Confirmed: the id map and the master's tracker learn what the slave now holds. Moved
  // names are forgotten first: a name can be a rename source and hold another object now
  // (a swap), which the listings below record again.
  ctx.ids.deleteSubtrees(d.renames.filter((r) => { const owner = batch.owner.get(r.to); return owner && !owner.failed; }).map((r) => r.from));
  // Names an op of a failed directory may or may not have changed: in doubt, forgotten.
  const doubtful = [...before, ...after].filter(([op, r]) => !r.ok || batch.owner.get(opTarget(op))?.failed !== false);
  ctx.ids.deleteSubtrees(doubtful.flatMap(([op]) => (op.op === 'link' ? [op.path] : opPaths(op))));
  for (const v of batch.visits) {
    if (v.failed || !v.entries) continue;
    for (const e of v.entries) ctx.ids.set(joinRel(v.dir, e.name), e.id);
    ctx.master.confirmDir(v.dir, v.entries);
  }
  for (const v of batch.visits) { v.entries = null; v.flushed = true; } // entries: keep memory flat on huge trees
  ctx.guard.noteCreated(batch.created, Date.now());
  for (const [id, nlink] of batch.linkCandidates) ctx.passLinks.set(id, nlink);
  // Recorded before this batch's directories are marked: a worker killed before the groups are
  // joined must still verify (those directories may never change again).
  if ([...batch.linkCandidates].some(([id, nlink]) => linkGroupOpen(ctx.ids.pathsOf(id).length, nlink))) ctx.events.onLinkDebt?.();
  // Saved after every batch: a worker killed later loses no knowledge of renames and links
  // it confirmed, and only the names of the batch in flight are in doubt (see idsStale).
  ctx.persistIds();
  const entryOps = plan.before.length + plan.after.length;
  report.entryOps += entryOps;
  report.dataFiles += data.length;
  report.bytesSent += bytesSent;
  const summary: BatchSummary = { entryOps, dataFiles: data.length, dataBytes: batch.dataBytes, bytesSent, failures, durationMs: Date.now() - started };
  ctx.log.info(summary, failures ? 'batch done with failures' : 'batch done');
  ctx.events.onBatch?.(summary);
}

/**
 * Link groups made whole (relinkPartners), after the data they link to was sent. A repair
 * only: one that fails (the data vanished, the other name's directory is not on the slave
 * yet) leaves that name as it was, and the directories' fate to their own ops.
 */
async function applyRelinks(ctx: EngineContext, batch: Batch, dirsSynced: readonly BytePath[]): Promise<void> {
  const relinks = batch.relinks.filter((r) => !batch.owner.get(r.existing)?.failed && !batch.owner.get(r.path)?.failed);
  const ops = relinks.map((r): EntryOp => ({ op: 'link', existing: r.existing, path: r.path }));
  if (ops.length === 0) return;
  const results = await applyOps(ctx, ops);
  // The slave now holds this object at those names, whatever the id map knew of them: a name
  // it still ascribed to a former object would later be moved away as that object's rename
  // source, taking the link with it (seen in the soak: a linked name missing on the slave).
  // One that failed leaves a copy there: forgotten, so that its group stays open (linkDebt).
  results.forEach(([, r], i) => { if (r.ok) ctx.ids.set(relinks[i]!.path, relinks[i]!.id); else ctx.ids.delete(relinks[i]!.path); });
  const done = results.filter(([, r]) => r.ok && !r.noop);
  const already = results.filter(([, r]) => r.ok && r.noop).length;
  if (done.length === 0 && already === ops.length) return;
  ctx.log.info({ relinked: done.length, already, failed: ops.length - done.length - already, sample: results.filter(([, r]) => !r.ok).slice(0, 3).map(([op, r]) => `${displayPath(opTarget(op))}: ${r.ok ? '' : r.message}`) },
    'hard-link groups made whole on the slave');
  // A relink changed its directory's times on the slave, maybe in a directory already synced
  // that no pass revisits: its times are set from the master again (a failure is no failure
  // of this batch; such a directory is not this batch's to confirm).
  const synced = new Set(dirsSynced);
  const dirs = [...new Set(done.map(([op]) => parentOf(opTarget(op))))].map((p) => (p === '' ? '.' : p)).filter((p) => !synced.has(p));
  const failed = await syncDirAttrs(ctx, dirs);
  if (failed.length > 0) ctx.log.debug({ dirs: failed.map(([p]) => displayPath(p)) }, 'times of relinked directories not set');
}
