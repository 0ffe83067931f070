// How a batch's data is split over parallel rsync runs, and which run can also set a
// directory's attributes: pure, so the rules are unit-tested apart from rsync.
import { parentOf, type BytePath } from './bytepath.js';

/** Per-file cost in bytes, so that many small files spread over the runs too. */
const PER_FILE = 4096;

/**
 * Split into at most `jobs` chunks of similar total size (largest first, greedy). With `groupOf`,
 * items of one group (a directory) stay in one chunk unless the group alone is more than a
 * chunk's fair share: a directory whose files are all in one run can have its attributes set by
 * that run (see dirsAlongRuns).
 */
export function splitForJobs<T extends { size: number }>(items: readonly T[], jobs: number, groupOf?: (item: T) => string): T[][] {
  if (items.length === 0) return [];
  const n = Math.max(1, Math.min(jobs, items.length));
  const weight = (unit: readonly T[]) => unit.reduce((t, i) => t + i.size + PER_FILE, 0);
  let units: T[][] = items.map((i) => [i]);
  if (groupOf && n > 1) {
    const share = weight(items) / n;
    const groups = new Map<string, T[]>();
    for (const i of items) {
      const key = groupOf(i);
      const g = groups.get(key);
      if (g) g.push(i); else groups.set(key, [i]);
    }
    units = [...groups.values()].flatMap((g) => (weight(g) <= share ? [g] : g.map((i) => [i])));
  }
  const chunks: { total: number; items: T[] }[] = Array.from({ length: n }, () => ({ total: 0, items: [] }));
  for (const unit of units.map((u) => ({ u, w: weight(u) })).sort((a, b) => b.w - a.w)) {
    let best = chunks[0]!;
    for (const c of chunks) if (c.total < best.total) best = c;
    best.items.push(...unit.u);
    best.total += unit.w;
  }
  return chunks.map((c) => c.items).filter((c) => c.length > 0);
}

/**
 * Which run sets each directory's attributes along with its data: rsync sets a listed
 * directory's times after the files in it, so a run holding every data path directly in that
 * directory (or, when there is none, the run with the fewest paths) can; no other run writes
 * into it. A directory written into by several runs is `left` for a run of its own after them.
 */
export function dirsAlongRuns(runs: readonly (readonly BytePath[])[], dirs: readonly BytePath[]): { along: BytePath[][]; left: BytePath[] } {
  const along: BytePath[][] = runs.map(() => []);
  const left: BytePath[] = [];
  if (runs.length === 0) return { along, left: [...dirs] };
  const writers = new Map<BytePath, Set<number>>();
  runs.forEach((paths, k) => {
    for (const p of paths) {
      const dir = parentOf(p);
      const w = writers.get(dir);
      if (w) w.add(k); else writers.set(dir, new Set([k]));
    }
  });
  const sizes = runs.map((r) => r.length);
  for (const dir of dirs) {
    const w = writers.get(dir);
    let k: number;
    if (!w) k = sizes.indexOf(Math.min(...sizes));
    else if (w.size === 1) k = [...w][0]!;
    else { left.push(dir); continue; }
    along[k]!.push(dir);
    sizes[k]!++;
  }
  return { along, left };
}
