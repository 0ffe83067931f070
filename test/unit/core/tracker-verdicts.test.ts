// The tree tracker's pure decisions: ids, what a crawl concludes per directory, what an event
// does before any I/O, burst detection, and when the watcher must be renewed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MasterEntry } from '../../../src/core/entry.js';
import { UNKNOWN, compareListing, crawlVerdict, indexedOf, indexedOfMaster, trackerId, type IndexedEntry, type ListedStat } from '../../../src/core/tracker-compare.js';
import { BurstDetector, eventStep, mapEventPath } from '../../../src/core/tracker-events.js';
import { coverageVerdict, needsFreshWatch, type DeepReason } from '../../../src/core/tracker-watch.js';

function stat(name: string, over: Partial<ListedStat> = {}): ListedStat {
  return { name, type: 'file', ino: 100n, size: 10, mtimeSec: 1_700_000_000, mtimeNsec: 5, ctimeNs: 1n, mode: 0o644, uid: 1, gid: 1, ...over };
}
const listing = (stats: ListedStat[]) => stats.map((s) => ({ name: s.name, entry: indexedOf(s) }));
const indexOf = (stats: ListedStat[]) => new Map<string, IndexedEntry>(stats.map((s) => [s.name, indexedOf(s)]));

describe('trackerId / indexedOfMaster', () => {
  it('tells types apart for the same inode (a reused inode is not a rename)', () => {
    assert.equal(trackerId(7n, 'file'), 'ino:7');
    assert.equal(trackerId(7, 'dir'), 'ino:7:d');
    assert.equal(trackerId(7n, 'symlink'), 'ino:7:l');
    assert.equal(trackerId(7n, 'other'), 'ino:7:o');
  });

  it('recovers the inode from the id; what MasterEntry lacks is unknown, so it never matches', () => {
    const e: MasterEntry = { name: 'd', type: 'dir', mode: 0o755, uid: 1, gid: 2, size: 4096, mtimeSec: 3, mtimeNsec: 4, id: 'ino:42:d', nlink: 2 };
    const r = indexedOfMaster(e);
    assert.deepEqual(r, { type: 'dir', ino: '42', size: 4096, mtimeNs: '3000000004', ctimeNs: UNKNOWN, mode: 0o755, uid: 1, gid: 2 });
    assert.equal(indexedOfMaster({ ...e, id: 'gfid-x' }).ino, UNKNOWN);
  });
});

describe('crawlVerdict', () => {
  const none = () => undefined;

  it('a changed listing is counted and bumped, whatever the table holds', () => {
    const cmp = compareListing(indexOf([stat('a')]), listing([stat('a', { size: 11 })]));
    assert.deepEqual(crawlVerdict('d', cmp, () => true, none), { changed: true, baseline: null, fresh: false, bumpChildren: [] });
  });

  it('an unchanged directory without an xtime gets its confirmed one back (restart)', () => {
    const cmp = compareListing(indexOf([stat('a')]), listing([stat('a')]));
    assert.deepEqual(crawlVerdict('d', cmp, () => false, (d) => (d === 'd' ? 123 : undefined)), { changed: false, baseline: 123, fresh: false, bumpChildren: [] });
  });

  it('an unchanged directory with nothing confirmed is bumped but not counted', () => {
    const cmp = compareListing(indexOf([stat('a')]), listing([stat('a')]));
    assert.deepEqual(crawlVerdict('d', cmp, () => false, none), { changed: false, baseline: null, fresh: true, bumpChildren: [] });
  });

  it('an unchanged directory that has an xtime is left alone', () => {
    const cmp = compareListing(indexOf([stat('a')]), listing([stat('a')]));
    assert.deepEqual(crawlVerdict('', cmp, () => true, () => 5), { changed: false, baseline: null, fresh: false, bumpChildren: [] });
  });

  it('replaced subdirectories are bumped only when they hold a value to supersede', () => {
    const before = [stat('x', { type: 'dir', ino: 1n }), stat('y', { type: 'dir', ino: 2n })];
    const after = [stat('x', { type: 'dir', ino: 9n }), stat('y', { type: 'dir', ino: 8n }), stat('z', { type: 'dir', ino: 7n })];
    const cmp = compareListing(indexOf(before), listing(after));
    const v = crawlVerdict('', cmp, (d) => d === 'x', (d) => (d === 'z' ? 1 : undefined));
    assert.equal(v.changed, true);
    assert.deepEqual(v.bumpChildren.sort(), ['x', 'z']);
    assert.deepEqual(crawlVerdict('p', cmp, (d) => d === 'p/y', none).bumpChildren, ['p/y']);
  });
});

describe('eventStep', () => {
  const step = (type: 'create' | 'update' | 'delete', p: string) => eventStep(mapEventPath('/m', type, p)!);

  it('an exact delete bumps the parent and forgets the path', () => {
    assert.deepEqual(step('delete', '/m/a/b'), { bump: 'a', exact: true, forget: true, resolve: 'no' });
  });

  it('a create needs the file system (is it a new directory?); an update only when the path is a tracked directory', () => {
    assert.deepEqual(step('create', '/m/a/b'), { bump: 'a', exact: true, forget: false, resolve: 'yes' });
    assert.deepEqual(step('update', '/m/a'), { bump: '', exact: true, forget: false, resolve: 'if-tracked' });
  });

  it('the root itself bumps the root and needs nothing more', () => {
    assert.deepEqual(step('update', '/m'), { bump: '', exact: true, forget: false, resolve: 'no' });
  });

  it('a mangled last name: the parent is bumped at once, the name resolved (but not for a delete)', () => {
    assert.deepEqual(step('update', '/m/a/x\uFFFD'), { bump: 'a', exact: false, forget: false, resolve: 'yes' });
    assert.deepEqual(step('delete', '/m/a/x\uFFFD'), { bump: 'a', exact: false, forget: false, resolve: 'no' });
  });

  it('a mangled ancestor: nothing is bumped before the path is resolved', () => {
    for (const t of ['create', 'update', 'delete'] as const) assert.deepEqual(step(t, '/m/a\uFFFD/b'), { bump: null, exact: false, forget: false, resolve: 'yes' });
  });
});

describe('BurstDetector', () => {
  it('stays quiet below the threshold within one second', () => {
    const b = new BurstDetector(10);
    assert.equal(b.note(1000, 5), null);
    assert.equal(b.note(2500, 6), null, 'the first 5 fell out of the window');
  });

  it('a burst begins once, and its crawl is due a second after the latest events', () => {
    const b = new BurstDetector(10);
    assert.equal(b.note(1000, 6), null);
    assert.deepEqual(b.note(1500, 4), { waitMs: 1000, beganWith: 10 });
    assert.deepEqual(b.note(1600, 1), { waitMs: 1000, beganWith: null });
  });

  it('a burst that goes on is crawled at the latest 10 s after it began', () => {
    const b = new BurstDetector(1);
    assert.deepEqual(b.note(1000, 1), { waitMs: 1000, beganWith: 1 });
    assert.deepEqual(b.note(10_500, 1), { waitMs: 500, beganWith: null });
    assert.deepEqual(b.note(12_000, 1), { waitMs: 0, beganWith: null });
  });

  it('after end() the next burst begins anew', () => {
    const b = new BurstDetector(2);
    assert.equal(b.note(1000, 2)?.beganWith, 2);
    b.end();
    assert.equal(b.note(5000, 1), null);
    assert.equal(b.note(5100, 1)?.beganWith, 2);
  });
});

describe('needsFreshWatch', () => {
  const pending = (entries: [string, DeepReason][]) => new Map<string, DeepReason>(entries);

  it('a new directory with a subdirectory parcel never reported as created', () => {
    assert.equal(needsFreshWatch('n', pending([['n', 'created']]), ['n', 'n/s'], () => false), true);
  });

  it('not when every subdirectory had its own create event', () => {
    assert.equal(needsFreshWatch('n', pending([['n', 'created']]), ['n', 'n/s'], (d) => d === 'n/s'), false);
  });

  it('not without subdirectories, nor for a subtree checked only because a path was unresolved', () => {
    assert.equal(needsFreshWatch('n', pending([['n', 'created']]), ['n'], () => false), false);
    assert.equal(needsFreshWatch('n', pending([['n', 'unresolved']]), ['n', 'n/s'], () => false), false);
  });

  it('a created directory below the top counts; one elsewhere does not', () => {
    assert.equal(needsFreshWatch('', pending([['a/b', 'created']]), ['a', 'a/b'], () => false), true);
    assert.equal(needsFreshWatch('x', pending([['y', 'created']]), ['x', 'x/s'], () => false), false);
  });
});

describe('coverageVerdict', () => {
  it('renews once per directory, then gives up on it; renewals name the outermost directories', () => {
    const d = (rel: string) => ({ rel, key: `k:${rel}` });
    const v = coverageVerdict([d('a'), d('a/b'), d('c'), d('old')], new Set(['k:old']));
    assert.deepEqual(v.giveUp.map((x) => x.rel), ['old']);
    assert.deepEqual(v.renew.map((x) => x.rel), ['a', 'a/b', 'c']);
    assert.deepEqual(v.tops, ['a', 'c']);
    assert.deepEqual(coverageVerdict([], new Set()), { giveUp: [], renew: [], tops: [] });
  });
});
