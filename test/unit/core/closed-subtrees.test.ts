import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closedVisits, marksDeepestFirst, visitDepth, type SubtreeVisit } from '../../../src/core/closed-subtrees.js';

interface Node extends SubtreeVisit { name: string; parent: Node | null; flushed: boolean; marked: boolean; incomplete: boolean }
const node = (name: string, parent: Node | null, more: Partial<Node> = {}): Node =>
  ({ name, parent, flushed: true, marked: false, incomplete: false, ...more });
const names = (s: Set<Node>) => [...s].map((n) => n.name).sort();

// An in-memory visit tree: '' → a → a/b, a/c; '' → d.
function tree() {
  const root = node('', null);
  const a = node('a', root);
  const b = node('a/b', a);
  const c = node('a/c', a);
  const d = node('d', root);
  return { root, a, b, c, d, all: [root, a, b, c, d] };
}

describe('closedVisits', () => {
  it('closes every applied subtree, never the root', () => {
    const t = tree();
    assert.deepEqual(names(closedVisits(t.all, [], [])), ['a', 'a/b', 'a/c', 'd']);
  });

  it('a directory still to visit keeps its ancestors open, not its siblings', () => {
    const t = tree();
    const pending = node('a/b/x', t.b);
    assert.deepEqual(names(closedVisits(t.all, [pending], [])), ['a/c', 'd']);
  });

  it('a deferred delete keeps its owner and ancestors open until the end of the pass', () => {
    const t = tree();
    assert.deepEqual(names(closedVisits(t.all, [], [t.c])), ['a/b', 'd']);
  });

  it('an unflushed visit blocks its line; an incomplete one (gone on the master) does not', () => {
    const t = tree();
    t.b.flushed = false;
    assert.deepEqual(names(closedVisits(t.all, [], [])), ['a/c', 'd']);
    t.b.incomplete = true;
    assert.deepEqual(names(closedVisits(t.all, [], [])), ['a', 'a/c', 'd']);
  });

  it('leaves out what is already marked', () => {
    const t = tree();
    t.d.marked = true;
    t.b.marked = true;
    assert.deepEqual(names(closedVisits(t.all, [], [])), ['a', 'a/c']);
  });
});

describe('marksDeepestFirst', () => {
  it('orders children before their parents', () => {
    const t = tree();
    assert.deepEqual([visitDepth(t.root), visitDepth(t.a), visitDepth(t.b)], [0, 1, 2]);
    const order = marksDeepestFirst([[t.root, 1], [t.a, 2], [t.b, 3], [t.d, 4]]).map(([v]) => v.name);
    assert.ok(order.indexOf('a/b') < order.indexOf('a'));
    assert.ok(order.indexOf('a') < order.indexOf(''));
    assert.ok(order.indexOf('d') < order.indexOf(''));
    assert.equal(order.at(-1), '');
  });
});
