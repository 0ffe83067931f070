// Writing marks: a closed subtree is stamped as soon as it is closed, the rest at the end of the
// pass, deepest first; which marks and which subtrees are decided in core (marks.ts, closed-subtrees.ts).
import { closedVisits, marksDeepestFirst } from '../core/closed-subtrees.js';
import { marksToWrite } from '../core/marks.js';
import type { Xtime } from '../core/xtime.js';
import type { Deferred, EngineContext, Visit } from './engine-state.js';
import { applyOps } from './engine-transfer.js';

/** Stamp the visited directories whose subtrees are closed (see closedVisits), deepest first. */
export async function stampClosed(ctx: EngineContext, all: Visit[], pending: readonly Visit[], deferred: readonly Deferred[], report: { failures: string[] }): Promise<void> {
  const closed = closedVisits(all, pending, deferred.map((x) => x.owner));
  ctx.log.debug({ visited: all.length, pending: pending.length, closed: closed.size }, 'closed subtrees');
  if (closed.size === 0) return;
  const marks = [...marksToWrite(all)].filter(([v]) => closed.has(v));
  for (const v of closed) v.marked = true; // final either way: nothing below them changes in this pass
  if (marks.length === 0) return;
  await ctx.master.flush();
  await writeMarks(ctx, marks, report);
}

/**
 * Stamp every confirmed visited directory with the xtime read before its listing, capped by
 * the old mark of any failed directory below it (core/marks.ts), deepest first, so a parent's
 * mark never claims more than its children's. Returns the root's new mark, if it got one.
 */
export async function stampMarks(ctx: EngineContext, all: Visit[], report: { failures: string[] }): Promise<Xtime | null> {
  ctx.persistIds();
  await ctx.master.flush();
  return writeMarks(ctx, [...marksToWrite(all)].filter(([v]) => !v.marked), report);
}

/** Write marks deepest first; returns the root's, if it was among them and written. */
async function writeMarks(ctx: EngineContext, marks: [Visit, Xtime][], report: { failures: string[] }): Promise<Xtime | null> {
  const results = await applyOps(ctx, marksDeepestFirst(marks).map(([v, xtime]) => ({ op: 'mark', path: v.dir, xtime })));
  let rootMark: Xtime | null = null;
  results.forEach(([op, r]) => {
    // ENOENT: a later batch of this pass renamed or removed that directory on the slave (the
    // master did so meanwhile); its new place is revisited, nothing failed.
    if (!r.ok) { if (r.errno !== 'ENOENT') report.failures.push(r.message); }
    else if (op.op === 'mark' && op.path === '') rootMark = op.xtime;
  });
  return rootMark;
}
