// The deletes deferred to the end of a pass, through the mass-deletion guard (core/delete-guard.ts):
// held while removals on the master are not quiet, none applied when a limit is crossed, and the
// held ones keep their directories unmarked so the next pass decides again.
import { displayPath, joinRel, type BytePath } from '../core/bytepath.js';
import type { SubtreeCount, Trip } from '../core/delete-guard.js';
import type { EntryOp } from '../core/ops.js';
import { opTarget, type Deferred, type EngineContext, type Visit } from './engine-state.js';
import { applyOps, syncDirAttrs } from './engine-transfer.js';

export async function applyDeferredDeletes(ctx: EngineContext, deferred: Deferred[], report: { entryOps: number; failures: string[]; churn: string[]; heldDeletes: number; massDelete: Trip | null }): Promise<void> {
  // Directories whose attributes a batch left to this step (see flush), deletes or not.
  const parents = new Map<BytePath, Visit>();
  for (const x of deferred) if (ctx.attrsAfterDeletes.has(x.owner.dir)) parents.set(x.owner.dir, x.owner);
  // A name a rename of this pass already moved away is not there any more (nothing of this
  // pass puts anything at a name the master lacks): no delete needed.
  deferred = deferred.filter((x) => !ctx.movedAway.has(x.path));
  // The guard: held deletes keep their directories unmarked, so the next pass decides again.
  const now = Date.now();
  const fresh = ctx.guard.reconcile(deferred, now);
  if (ctx.guard.enabled) {
    const budget = ctx.guard.countBudget(ctx.ids.size);
    for (const c of fresh) if (c.type === 'dir') ctx.guard.setCount(c.path, await countSlaveSubtree(ctx, c.path, budget, now));
  }
  const decision = ctx.guard.decide(now, ctx.ids.size, ctx.deletesConfirmed);
  if (decision.trip) report.massDelete = decision.trip;
  const due = new Set(decision.apply);
  for (const x of deferred) {
    if (due.has(x.path)) continue;
    report.heldDeletes++;
    x.owner.failed = true; // its old mark stays: revisited, and nothing above claims past it
  }
  if (report.heldDeletes > 0 && !decision.trip) ctx.log.debug({ held: report.heldDeletes, due: due.size }, 'deletes held until removals on the master are quiet (--delete-delay)');
  deferred = deferred.filter((x) => due.has(x.path));
  const ops: EntryOp[] = deferred.map((x) => ({ op: 'delete', path: x.path, type: x.type }));
  const results = await applyOps(ctx, ops);
  report.entryOps += ops.length;
  const gone: BytePath[] = [];
  results.forEach(([op, r], i) => {
    const owner = deferred[i]!.owner;
    if (r.ok) {
      gone.push(opTarget(op));
      return;
    }
    report.failures.push(r.message);
    owner.failed = true;
  });
  ctx.ids.deleteSubtrees(gone);
  ctx.guard.recordApplied(gone, Date.now());
  // Their parents' mtimes moved: set them back to the master's.
  for (const x of deferred) parents.set(x.owner.dir, x.owner);
  if (parents.size === 0) return;
  for (const [p, why, errno] of await syncDirAttrs(ctx, [...parents.keys()].map((p) => (p === '' ? '.' : p)))) {
    (errno === 'ENOENT' ? report.churn : report.failures).push(`${displayPath(p)}: ${why}`);
    const v = parents.get(p);
    if (v) v.failed = true;
  }
}

/**
 * Entries on the slave at and below `dir` (and how many of them the slave has held longer than
 * the guard's window), counted up to `budget`: enough to tell whether a limit is crossed.
 */
async function countSlaveSubtree(ctx: EngineContext, dir: BytePath, budget: number, now: number): Promise<SubtreeCount> {
  let total = 1;
  let established = ctx.guard.isYoung(dir, now) ? 0 : 1;
  const queue = [dir];
  while (queue.length > 0 && total < budget) {
    const d = queue.shift()!;
    const list = await ctx.slave.list(d, ctx.cfg.markKey).catch(() => null);
    for (const e of list ?? []) {
      const p = joinRel(d, e.name);
      total++;
      if (!ctx.guard.isYoung(p, now)) established++;
      if (e.type === 'dir') queue.push(p);
    }
  }
  return { total, established };
}
