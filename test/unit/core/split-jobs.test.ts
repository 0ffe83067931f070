import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { splitForJobs } from '../../../src/master/engine.js';

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
