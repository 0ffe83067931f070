import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  UNKNOWN, compareListing, decodeIndexed, encodeIndexed, indexedOf, sameIndexed, type IndexedEntry, type ListedStat,
} from '../../../src/core/tracker-compare.js';

function stat(name: string, over: Partial<ListedStat> = {}): ListedStat {
  return {
    name, type: 'file', ino: 100n, size: 10, mtimeSec: 1_700_000_000, mtimeNsec: 5, ctimeNs: 1_700_000_000_000_000_005n,
    mode: 0o644, uid: 1000, gid: 1000, ...over,
  };
}

function indexOf(stats: ListedStat[]): Map<string, IndexedEntry> {
  return new Map(stats.map((s) => [s.name, indexedOf(s)]));
}

function listing(stats: ListedStat[]) {
  return stats.map((s) => ({ name: s.name, entry: indexedOf(s) }));
}

const base = [stat('a', { ino: 1n }), stat('b', { ino: 2n }), stat('d', { ino: 3n, type: 'dir', size: 0, mode: 0o755 })];

describe('indexedOf / encode / decode', () => {
  it('keeps full-precision times and inode as exact decimal strings', () => {
    const e = indexedOf(stat('x', { ino: 18446744073709551557n, mtimeSec: 1_700_000_000, mtimeNsec: 999_999_999, ctimeNs: 1_700_000_001_000_000_001n }));
    assert.equal(e.ino, '18446744073709551557');
    assert.equal(e.mtimeNs, '1700000000999999999');
    assert.equal(e.ctimeNs, '1700000001000000001');
  });

  it('round-trips through the journal tuple (and JSON)', () => {
    const e = indexedOf(stat('x'));
    assert.deepEqual(decodeIndexed(JSON.parse(JSON.stringify(encodeIndexed(e)))), e);
  });

  it('rejects malformed stored values', () => {
    for (const v of [null, 5, 'x', [], ['file'], ['weird', '1', 1, '1', '1', 1, 1, 1], ['file', 1, 1, '1', '1', 1, 1, 1]]) {
      assert.equal(decodeIndexed(v), null);
    }
  });

  it('an unknown field never compares equal', () => {
    const e = indexedOf(stat('x'));
    assert.ok(sameIndexed(e, { ...e }));
    assert.ok(!sameIndexed({ ...e, ctimeNs: UNKNOWN }, { ...e, ctimeNs: UNKNOWN }));
  });
});

describe('compareListing', () => {
  it('unchanged listing → unchanged (no bump)', () => {
    const c = compareListing(indexOf(base), listing(base));
    assert.equal(c.unchanged, true);
    assert.deepEqual([c.added, c.removed, c.modified, c.replacedDirs], [[], [], [], []]);
  });

  it('an empty confirmed directory that is still empty is unchanged', () => {
    assert.equal(compareListing(new Map(), []).unchanged, true);
  });

  it('a directory missing from the index is changed, even when empty', () => {
    const c = compareListing(null, []);
    assert.equal(c.unchanged, false);
    assert.equal(c.unindexed, true);
    const d = compareListing(undefined, listing(base));
    assert.deepEqual(d.added, ['a', 'b', 'd']);
    assert.deepEqual(d.replacedDirs, ['d']);
  });

  it('detects an added name', () => {
    const c = compareListing(indexOf(base), listing([...base, stat('c', { ino: 9n })]));
    assert.equal(c.unchanged, false);
    assert.deepEqual(c.added, ['c']);
  });

  it('detects a removed name', () => {
    const c = compareListing(indexOf(base), listing(base.filter((s) => s.name !== 'b')));
    assert.equal(c.unchanged, false);
    assert.deepEqual(c.removed, ['b']);
  });

  it('detects a rename inside the directory (one removed, one added, same inode)', () => {
    const c = compareListing(indexOf(base), listing([stat('a2', { ino: 1n }), base[1]!, base[2]!]));
    assert.deepEqual(c.added, ['a2']);
    assert.deepEqual(c.removed, ['a']);
  });

  it('detects data changes: size, or same size with another mtime', () => {
    assert.deepEqual(compareListing(indexOf(base), listing([stat('a', { ino: 1n, size: 11 }), base[1]!, base[2]!])).modified, ['a']);
    assert.deepEqual(compareListing(indexOf(base), listing([stat('a', { ino: 1n, mtimeNsec: 6 }), base[1]!, base[2]!])).modified, ['a']);
  });

  it('detects a content change that kept mtime (ctime moved)', () => {
    const c = compareListing(indexOf(base), listing([stat('a', { ino: 1n, ctimeNs: 1n }), base[1]!, base[2]!]));
    assert.deepEqual(c.modified, ['a']);
  });

  it('detects chmod and chown', () => {
    assert.deepEqual(compareListing(indexOf(base), listing([stat('a', { ino: 1n, mode: 0o600 }), base[1]!, base[2]!])).modified, ['a']);
    assert.deepEqual(compareListing(indexOf(base), listing([stat('a', { ino: 1n, uid: 0 }), base[1]!, base[2]!])).modified, ['a']);
    assert.deepEqual(compareListing(indexOf(base), listing([stat('a', { ino: 1n, gid: 0 }), base[1]!, base[2]!])).modified, ['a']);
  });

  it('detects a name replaced in place by another object (rename over it)', () => {
    const c = compareListing(indexOf(base), listing([stat('a', { ino: 77n }), base[1]!, base[2]!]));
    assert.deepEqual(c.modified, ['a']);
    assert.deepEqual(c.replacedDirs, []);
  });

  it('detects a type change and reports a directory that is not the indexed one', () => {
    const c = compareListing(indexOf(base), listing([stat('a', { ino: 1n, type: 'dir', size: 0 }), base[1]!, base[2]!]));
    assert.deepEqual(c.modified, ['a']);
    assert.deepEqual(c.replacedDirs, ['a']);
    const r = compareListing(indexOf(base), listing([base[0]!, base[1]!, stat('d', { ino: 33n, type: 'dir', size: 0, mode: 0o755 })]));
    assert.deepEqual(r.replacedDirs, ['d']);
    // same directory, new mtime (its entries changed): modified, but not replaced
    const m = compareListing(indexOf(base), listing([base[0]!, base[1]!, stat('d', { ino: 3n, type: 'dir', size: 0, mode: 0o755, mtimeNsec: 9 })]));
    assert.deepEqual(m.modified, ['d']);
    assert.deepEqual(m.replacedDirs, []);
  });

  it('unchanged iff the listing equals the index (property)', () => {
    const entry = fc.record({
      ino: fc.bigInt({ min: 1n, max: 50n }), size: fc.integer({ min: 0, max: 3 }), mtimeNsec: fc.integer({ min: 0, max: 2 }),
      mode: fc.constantFrom(0o644, 0o600), type: fc.constantFrom('file' as const, 'dir' as const),
    });
    const dirArb = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd', 'e'), entry);
    fc.assert(fc.property(dirArb, dirArb, (before, after) => {
      const mk = (d: typeof before) => Object.entries(d).map(([name, e]) => stat(name, e));
      const c = compareListing(indexOf(mk(before)), listing(mk(after)));
      const same = Object.keys(before).length === Object.keys(after).length
        && Object.entries(before).every(([n, e]) => after[n] !== undefined && after[n]!.ino === e.ino && after[n]!.size === e.size && after[n]!.mtimeNsec === e.mtimeNsec && after[n]!.mode === e.mode && after[n]!.type === e.type);
      assert.equal(c.unchanged, same);
      assert.deepEqual(new Set(c.added), new Set(Object.keys(after).filter((n) => !(n in before))));
      assert.deepEqual(new Set(c.removed), new Set(Object.keys(before).filter((n) => !(n in after))));
    }));
  });
});
