import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { dirsAlongRuns, splitForJobs } from '../../../src/core/jobs.js';

interface Item { readonly id: number; readonly size: number }
const OVERHEAD = 4096;
const itemsArb = fc.array(fc.nat(10_000_000), { maxLength: 60 }).map((sizes) => sizes.map((size, id): Item => ({ id, size })));
const weight = (c: Item[]) => c.reduce((t, i) => t + i.size + OVERHEAD, 0);

describe('splitForJobs', () => {
  it('no items: no chunks', () => {
    assert.deepEqual(splitForJobs([], 4), []);
  });

  it('one job (or a nonsensical job count): a single chunk with everything', () => {
    const items = [{ id: 0, size: 5 }, { id: 1, size: 50 }];
    for (const jobs of [1, 0, -2]) {
      const out = splitForJobs(items, jobs);
      assert.equal(out.length, 1, `jobs=${jobs}`);
      assert.deepEqual(out[0]!.map((i) => i.id).sort(), [0, 1]);
    }
  });

  it('spreads one huge file and many small ones', () => {
    const items: Item[] = [{ id: 0, size: 1e9 }, ...Array.from({ length: 9 }, (_, i) => ({ id: i + 1, size: 10 }))];
    const out = splitForJobs(items, 2);
    assert.equal(out.length, 2);
    const big = out.find((c) => c.some((i) => i.id === 0))!;
    assert.deepEqual(big.map((i) => i.id), [0], 'the huge file gets its own job');
  });

  it('many empty files still spread over all jobs (per-file overhead)', () => {
    const items = Array.from({ length: 100 }, (_, id) => ({ id, size: 0 }));
    const out = splitForJobs(items, 4);
    assert.deepEqual(out.map((c) => c.length), [25, 25, 25, 25]);
  });

  it('does not mutate or reorder its input', () => {
    const items = [{ id: 0, size: 1 }, { id: 1, size: 3 }, { id: 2, size: 2 }];
    const copy = structuredClone(items);
    splitForJobs(items, 2);
    assert.deepEqual(items, copy);
  });

  it('never more chunks than jobs, no empty chunk, every item exactly once (property)', () => {
    fc.assert(fc.property(itemsArb, fc.integer({ min: 1, max: 16 }), (items, jobs) => {
      const out = splitForJobs(items, jobs);
      assert.ok(out.length <= jobs);
      assert.equal(out.length, Math.min(jobs, items.length), 'uses every job it can');
      for (const c of out) assert.ok(c.length > 0);
      const seen = out.flat();
      assert.equal(seen.length, items.length);
      assert.equal(new Set(seen).size, items.length);
      for (const i of items) assert.ok(seen.includes(i), 'same object identity');
    }), { numRuns: 1000 });
  });

  it('balanced: chunk weights differ by at most the largest single item (property)', () => {
    fc.assert(fc.property(itemsArb, fc.integer({ min: 1, max: 16 }), (items, jobs) => {
      const out = splitForJobs(items, jobs);
      if (out.length < 2) return;
      const ws = out.map(weight);
      const maxItem = Math.max(...items.map((i) => i.size)) + OVERHEAD;
      assert.ok(Math.max(...ws) - Math.min(...ws) <= maxItem, `weights ${ws} vs max item ${maxItem}`);
    }), { numRuns: 1000 });
  });

  it('heaviest chunk within Graham\'s LPT bound (4/3 − 1/3m)·optimum, optimum by brute force (property)', () => {
    const small = fc.array(fc.nat(100_000), { minLength: 1, maxLength: 7 }).map((sizes) => sizes.map((size, id): Item => ({ id, size })));
    fc.assert(fc.property(small, fc.integer({ min: 1, max: 3 }), (items, jobs) => {
      const out = splitForJobs(items, jobs);
      const m = out.length;
      let opt = Infinity;
      const loads = new Array<number>(m).fill(0);
      const place = (k: number): void => {
        if (k === items.length) { opt = Math.min(opt, Math.max(...loads)); return; }
        for (let j = 0; j < m; j++) { loads[j]! += items[k]!.size + OVERHEAD; place(k + 1); loads[j]! -= items[k]!.size + OVERHEAD; }
      };
      place(0);
      const heaviest = Math.max(...out.map(weight));
      assert.ok(heaviest <= (4 / 3 - 1 / (3 * m)) * opt + 1e-6, `heaviest ${heaviest}, optimum ${opt}, jobs ${m}`);
    }), { numRuns: 300 });
  });

  it('with equal sizes, chunk lengths differ by at most one (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 200 }), fc.nat(1000), fc.integer({ min: 1, max: 16 }), (n, size, jobs) => {
      const out = splitForJobs(Array.from({ length: n }, (_, id) => ({ id, size })), jobs);
      if (out.length === 0) return;
      const ls = out.map((c) => c.length);
      assert.ok(Math.max(...ls) - Math.min(...ls) <= 1, String(ls));
    }), { numRuns: 500 });
  });
});

interface FileItem { readonly path: string; readonly size: number }
const dirOf = (i: FileItem) => i.path.slice(0, Math.max(0, i.path.lastIndexOf('/')));
const filesArb = fc.array(fc.record({ dir: fc.integer({ min: 0, max: 6 }), size: fc.nat(100_000) }), { maxLength: 60 })
  .map((xs) => xs.map((x, k): FileItem => ({ path: `d${x.dir}/f${k}`, size: x.size })));

describe('splitForJobs by directory', () => {
  it('keeps each small directory in one run while using every run', () => {
    const items = Array.from({ length: 12 }, (_, k): FileItem => ({ path: `d${k % 6}/f${k}`, size: 100 }));
    const out = splitForJobs(items, 3, dirOf);
    assert.equal(out.length, 3);
    for (const chunk of out) for (const i of chunk) {
      assert.ok(out.filter((c) => c.some((j) => dirOf(j) === dirOf(i))).length === 1, `${dirOf(i)} split over runs`);
    }
  });

  it('splits a directory larger than a run\'s fair share', () => {
    const items = Array.from({ length: 9 }, (_, k): FileItem => ({ path: `big/f${k}`, size: 1000 }));
    assert.deepEqual(splitForJobs(items, 3, dirOf).map((c) => c.length), [3, 3, 3]);
  });

  it('every item once, no empty run, balanced within the largest directory share (property)', () => {
    fc.assert(fc.property(filesArb, fc.integer({ min: 1, max: 8 }), (items, jobs) => {
      const out = splitForJobs(items, jobs, dirOf);
      assert.ok(out.length <= Math.max(1, jobs));
      for (const c of out) assert.ok(c.length > 0);
      assert.deepEqual(out.flat().map((i) => i.path).sort(), items.map((i) => i.path).sort());
      if (out.length < 2) return;
      const w = (c: FileItem[]) => c.reduce((t, i) => t + i.size + OVERHEAD, 0);
      const share = w(items) / Math.min(jobs, items.length);
      const biggest = Math.max(share, ...items.map((i) => i.size + OVERHEAD));
      const ws = out.map(w);
      assert.ok(Math.max(...ws) - Math.min(...ws) <= biggest + 1e-6, `weights ${ws}, bound ${biggest}`);
    }), { numRuns: 1000 });
  });
});

describe('dirsAlongRuns', () => {
  it('a directory goes with the one run writing into it, or the least busy when none does', () => {
    const { along, left } = dirsAlongRuns([['a/x', 'a/y', 'b/z'], ['c/w']], ['a', 'c', 'e', 'a/sub']);
    assert.deepEqual(along, [['a'], ['c', 'e', 'a/sub']]);
    assert.deepEqual(left, []);
  });

  it('a directory written into by two runs is left for a run of its own', () => {
    const { along, left } = dirsAlongRuns([['a/x'], ['a/y']], ['a']);
    assert.deepEqual(along, [[], []]);
    assert.deepEqual(left, ['a']);
  });

  it('no runs: every directory is left', () => {
    assert.deepEqual(dirsAlongRuns([], ['a', 'b']), { along: [], left: ['a', 'b'] });
  });

  it('each directory placed once, never with a run while another run writes into it (property)', () => {
    const runsArb = fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.nat(9)).map(([d, f]) => `d${d}/f${f}`), { maxLength: 8 }), { maxLength: 4 });
    const dirsArb = fc.uniqueArray(fc.integer({ min: 0, max: 7 }).map((d) => `d${d}`), { maxLength: 8 });
    fc.assert(fc.property(runsArb, dirsArb, (runs, dirs) => {
      const { along, left } = dirsAlongRuns(runs, dirs);
      assert.deepEqual([...along.flat(), ...left].sort(), [...dirs].sort());
      along.forEach((ds, k) => {
        for (const d of ds) runs.forEach((paths, j) => {
          if (j !== k) assert.ok(!paths.some((p) => p.startsWith(`${d}/`)), `${d} rides with run ${k} while run ${j} writes into it`);
        });
      });
    }), { numRuns: 1000 });
  });
});
