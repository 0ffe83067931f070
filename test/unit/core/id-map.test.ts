import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isWithin } from '../../../src/core/bytepath.js';
import { IdMap } from '../../../src/core/id-map.js';

const sorted = (xs: Iterable<string>) => [...xs].sort();

describe('IdMap: examples', () => {
  it('set / idAt / pathsOf / size', () => {
    const m = new IdMap();
    assert.equal(m.size, 0);
    assert.equal(m.set('a', 'X'), true);
    assert.equal(m.set('b/c', 'X'), true, 'a second name (hard link) for the same object');
    assert.equal(m.set('d', 'Y'), true);
    assert.equal(m.size, 3);
    assert.equal(m.idAt('a'), 'X');
    assert.equal(m.idAt('nope'), undefined);
    assert.deepEqual(sorted(m.pathsOf('X')), ['a', 'b/c']);
    assert.deepEqual(m.pathsOf('unknown'), []);
  });

  it('set of the same id again is a no-op and reports false; a new id moves the path', () => {
    const m = new IdMap();
    m.set('a', 'X');
    m.drainChanges();
    assert.equal(m.set('a', 'X'), false);
    assert.equal(m.drainChanges().size, 0);
    assert.equal(m.set('a', 'Y'), true);
    assert.deepEqual(m.pathsOf('X'), []);
    assert.deepEqual(m.pathsOf('Y'), ['a']);
    assert.equal(m.size, 1);
  });

  it('delete forgets one path and reports whether it was known', () => {
    const m = new IdMap();
    m.set('a', 'X');
    m.set('b', 'X');
    assert.equal(m.delete('a'), true);
    assert.equal(m.delete('a'), false);
    assert.deepEqual(m.pathsOf('X'), ['b']);
    assert.equal(m.idAt('a'), undefined);
  });

  it('deleteSubtree forgets the directory and everything below, but not siblings sharing a prefix', () => {
    const m = new IdMap();
    for (const [p, id] of [['a', 'A'], ['a/b', 'B'], ['a/b/c', 'C'], ['ab', 'AB'], ['a b', 'S'], ['x/a', 'XA'], ['a/\xff', 'F']] as const) m.set(p, id);
    assert.deepEqual(sorted(m.deleteSubtree('a')), ['a', 'a/b', 'a/b/c', 'a/\xff']);
    assert.deepEqual(sorted([...m.entries()].map(([p]) => p)), ['a b', 'ab', 'x/a']);
    assert.deepEqual(m.deleteSubtree('zzz'), []);
    assert.deepEqual(sorted(m.deleteSubtree('')), ['a b', 'ab', 'x/a'], "'' is the root: everything");
    assert.equal(m.size, 0);
  });

  it('drainChanges reports new ids and forgotten paths once', () => {
    const m = new IdMap();
    m.set('a', 'X');
    m.set('b', 'Y');
    m.delete('b');
    m.set('c/d', 'Z');
    m.deleteSubtree('c');
    assert.deepEqual(m.drainChanges(), new Map<string, string | undefined>([['a', 'X'], ['b', undefined], ['c/d', undefined]]));
    assert.equal(m.drainChanges().size, 0);
    m.set('a', 'W');
    assert.deepEqual(m.drainChanges(), new Map([['a', 'W']]));
  });
});

// ---- property: against a reference model ---------------------------------------------------------
const comp = fc.constantFrom('a', 'b', 'ab', '\xff', 'a b');
const pathArb = fc.array(comp, { minLength: 1, maxLength: 3 }).map((cs) => cs.join('/'));
const idArb = fc.constantFrom('i1', 'i2', 'i3', 'i4');
type Cmd =
  | { k: 'set'; path: string; id: string }
  | { k: 'delete'; path: string }
  | { k: 'deleteSubtree'; path: string }
  | { k: 'drain' };
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('set' as const), path: pathArb, id: idArb }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('delete' as const), path: pathArb }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('deleteSubtree' as const), path: fc.oneof(pathArb, fc.constant('')) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'drain' as const }) },
);

describe('IdMap: consistency with a reference model (property)', () => {
  it('agrees with a plain Map after any sequence of operations; persisted changes replay to the same state', () => {
    fc.assert(fc.property(fc.array(cmdArb, { maxLength: 60 }), (cmds) => {
      const m = new IdMap();
      const model = new Map<string, string>();
      /** What an incremental persister would hold, fed only by drainChanges(). */
      const persisted = new Map<string, string>();
      const persist = (changes: Map<string, string | undefined>) => {
        for (const [p, id] of changes) {
          if (id === undefined) persisted.delete(p);
          else persisted.set(p, id);
        }
      };
      const touched = new Set<string>();
      for (const c of cmds) {
        switch (c.k) {
          case 'set': {
            const changed = model.get(c.path) !== c.id;
            assert.equal(m.set(c.path, c.id), changed);
            model.set(c.path, c.id);
            if (changed) touched.add(c.path);
            break;
          }
          case 'delete': {
            const had = model.delete(c.path);
            assert.equal(m.delete(c.path), had);
            if (had) touched.add(c.path);
            break;
          }
          case 'deleteSubtree': {
            const gone = [...model.keys()].filter((p) => isWithin(p, c.path));
            assert.deepEqual(sorted(m.deleteSubtree(c.path)), sorted(gone));
            for (const p of gone) { model.delete(p); touched.add(p); }
            break;
          }
          case 'drain': {
            const ch = m.drainChanges();
            assert.deepEqual(sorted(ch.keys()), sorted(touched), 'changes name exactly the touched paths');
            for (const [p, id] of ch) assert.equal(id, model.get(p), `latest value of ${p}`);
            persist(ch);
            touched.clear();
            assert.deepEqual(new Map([...persisted].sort()), new Map([...model].sort()));
            break;
          }
        }
        // full consistency after every step
        assert.equal(m.size, model.size);
        assert.deepEqual(new Map([...m.entries()].sort()), new Map([...model].sort()));
        for (const id of ['i1', 'i2', 'i3', 'i4']) {
          assert.deepEqual(sorted(m.pathsOf(id)), sorted([...model].filter(([, v]) => v === id).map(([p]) => p)), `pathsOf(${id})`);
        }
        for (const p of model.keys()) assert.equal(m.idAt(p), model.get(p));
      }
      persist(m.drainChanges());
      assert.deepEqual(new Map([...persisted].sort()), new Map([...model].sort()));
    }), { numRuns: 500 });
  });

  it('pathsOf returns a copy: mutating it does not affect the map', () => {
    const m = new IdMap();
    m.set('a', 'X');
    const ps = m.pathsOf('X');
    ps.push('evil');
    ps.length = 0;
    assert.deepEqual(m.pathsOf('X'), ['a']);
  });
});

describe('IdMap: deleteSubtrees', () => {
  it('forgets several subtrees in one scan, the same as one deleteSubtree each (property)', () => {
    const comp = fc.constantFrom('a', 'b', 'a b', '\xff');
    const pathArb = fc.array(comp, { minLength: 1, maxLength: 4 }).map((cs) => cs.join('/'));
    fc.assert(fc.property(fc.uniqueArray(pathArb, { maxLength: 20 }), fc.array(fc.oneof(pathArb, fc.constant('')), { maxLength: 4 }), (paths, roots) => {
      const one = new IdMap();
      const many = new IdMap();
      paths.forEach((p, i) => { one.set(p, `id${i % 5}`); many.set(p, `id${i % 5}`); });
      const expected = roots.flatMap((r) => one.deleteSubtree(r));
      assert.deepEqual(sorted(many.deleteSubtrees(roots)), sorted(expected));
      assert.deepEqual(sorted([...many.entries()].map(([p]) => p)), sorted([...one.entries()].map(([p]) => p)));
      for (const [p] of many.entries()) assert.ok(!roots.some((r) => isWithin(p, r)));
    }), { numRuns: 500 });
  });
});
