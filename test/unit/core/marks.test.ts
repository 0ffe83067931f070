import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { marksToWrite, type MarkCandidate } from '../../../src/core/marks.js';
import { xtimeNewer, type Xtime } from '../../../src/core/xtime.js';

interface Node extends MarkCandidate { name: string; parent: Node | null; failed: boolean; incomplete: boolean }
const x = (sec: number): Xtime => ({ sec, usec: 0 });
const node = (name: string, parent: Node | null, xtime: number | null, stime: number | null, more: Partial<Node> = {}): Node =>
  ({ name, parent, xtime: xtime === null ? null : x(xtime), stime: stime === null ? null : x(stime), failed: false, incomplete: false, ...more });
const byName = (m: Map<Node, Xtime>) => Object.fromEntries([...m].map(([n, v]) => [n.name, v.sec]));

describe('marksToWrite', () => {
  it('marks every confirmed directory with its xtime when nothing failed', () => {
    const root = node('', null, 100, 50);
    const a = node('a', root, 90, 40);
    const b = node('a/b', a, 80, null);
    assert.deepEqual(byName(marksToWrite([root, a, b])), { '': 100, a: 90, 'a/b': 80 });
  });

  it('caps the ancestors of a failed directory at its old mark, and leaves it and siblings alone', () => {
    const root = node('', null, 100, 50);
    const a = node('a', root, 95, 40);
    const f = node('a/f', a, 95, 60, { failed: true });
    const s = node('s', root, 70, 20);
    assert.deepEqual(byName(marksToWrite([root, a, f, s])), { '': 60, a: 60, s: 70 });
  });

  it('marks no ancestor of a failed directory that never had a mark', () => {
    const root = node('', null, 100, 50);
    const a = node('a', root, 95, 40);
    const f = node('a/new', a, 95, null, { failed: true });
    const s = node('s', root, 70, 20);
    assert.deepEqual(byName(marksToWrite([root, a, f, s])), { s: 70 });
  });

  it('writes nothing that does not raise the old mark', () => {
    const root = node('', null, 100, 60);
    const f = node('f', root, 90, 55, { failed: true });
    assert.deepEqual(byName(marksToWrite([root, f])), {});
  });

  it('a directory gone since its listing (incomplete) is not marked and caps nothing', () => {
    const root = node('', null, 100, 50);
    const gone = node('g', root, 99, 10, { incomplete: true });
    assert.deepEqual(byName(marksToWrite([root, gone])), { '': 100 });
  });

  it('never claims more than a failed descendant had, nor more than any xtime read (property)', () => {
    fc.assert(fc.property(fc.array(fc.record({
      parent: fc.nat(), xtime: fc.option(fc.integer({ min: 1, max: 1000 })), stime: fc.option(fc.integer({ min: 1, max: 1000 })), failed: fc.boolean(),
    }), { minLength: 1, maxLength: 30 }), (specs) => {
      const nodes: Node[] = [];
      specs.forEach((sp, i) => nodes.push(node(String(i), i === 0 ? null : nodes[sp.parent % i]!, sp.xtime, sp.stime, { failed: sp.failed })));
      const marks = marksToWrite(nodes);
      for (const [n, m] of marks) {
        assert.ok(!n.failed);
        assert.ok(n.xtime && !xtimeNewer(m, n.xtime), 'never above its own xtime');
        if (n.stime) assert.ok(xtimeNewer(m, n.stime), 'only raises');
        for (const d of nodes) {
          let under = false;
          for (let p = d.parent; p; p = p.parent) if (p === n) under = true;
          if (under && d.failed) assert.ok(d.stime && !xtimeNewer(m, d.stime), `mark ${m.sec} on ${n.name} above failed ${d.name}'s old mark`);
        }
      }
    }), { numRuns: 500 });
  });
});
