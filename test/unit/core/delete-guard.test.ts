import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DeleteGuard, MAX_YOUNG, PERCENT_FLOOR, type DeleteGuardConfig } from '../../../src/core/delete-guard.js';

const cfg = (over: Partial<DeleteGuardConfig> = {}): DeleteGuardConfig =>
  ({ delayMs: 5_000, maxHoldMs: 60_000, windowMs: 600_000, maxDelete: 1000, maxDeletePercent: 25, ...over });
const files = (...names: string[]) => names.map((path) => ({ path, type: 'file' }));

describe('DeleteGuard: the delete delay', () => {
  it('holds a delete until removals have been quiet for the delay, then applies it', () => {
    const g = new DeleteGuard(cfg());
    g.reconcile(files('a'), 0);
    let d = g.decide(0, 1000, false);
    assert.deepEqual([d.apply, d.hold, d.trip], [[], ['a'], null]);
    g.reconcile(files('a'), 4_999);
    assert.deepEqual(g.decide(4_999, 1000, false).apply, []);
    g.reconcile(files('a'), 5_000);
    d = g.decide(5_000, 1000, false);
    assert.deepEqual([d.apply, d.hold], [['a'], []]);
  });

  it('a new removal restarts the quiet period for all pending deletes', () => {
    const g = new DeleteGuard(cfg());
    g.reconcile(files('a'), 0);
    g.reconcile(files('a', 'b'), 4_000);
    assert.deepEqual(g.decide(6_000, 1000, false).apply, [], 'b joined at 4 s: not quiet until 9 s');
    assert.deepEqual(g.decide(9_000, 1000, false).apply.sort(), ['a', 'b']);
  });

  it('under steady removals a delete still goes after maxHold', () => {
    const g = new DeleteGuard(cfg());
    for (let t = 0; t <= 60_000; t += 1_000) g.reconcile(files('first', `n${t}`), t);
    const d = g.decide(60_000, 100_000, false);
    assert.ok(d.apply.includes('first'));
    assert.ok(d.hold.includes('n60000'));
  });

  it('a name back on the master leaves the pending set and starts over when missing again', () => {
    const g = new DeleteGuard(cfg());
    g.reconcile(files('a'), 0);
    assert.deepEqual(g.reconcile([], 3_000), []);
    assert.deepEqual(g.reconcile(files('a'), 4_000).map((c) => c.path), ['a'], 'new again');
    assert.deepEqual(g.decide(8_000, 1000, false).apply, [], 'its wait starts at 4 s');
    assert.deepEqual(g.decide(9_000, 1000, false).apply, ['a']);
  });

  it('delay 0 applies at once', () => {
    const g = new DeleteGuard(cfg({ delayMs: 0 }));
    g.reconcile(files('a', 'b'), 10);
    assert.deepEqual(g.decide(10, 1000, false).apply, ['a', 'b']);
  });
});

describe('DeleteGuard: the limits', () => {
  it('trips over max-delete with whole subtrees counted, and applies none of it', () => {
    const g = new DeleteGuard(cfg({ maxDeletePercent: 0 }));
    const fresh = g.reconcile([{ path: 'big', type: 'dir' }, ...files('x')], 0);
    assert.equal(fresh.length, 2);
    g.setCount('big', { total: 1000, established: 1000 });
    const d = g.decide(10_000, 1_000_000, false);
    assert.deepEqual(d.apply, []);
    assert.deepEqual(d.hold.sort(), ['big', 'x']);
    assert.equal(d.trip?.which, 'max-delete');
    assert.equal(d.trip?.count, 1001);
    assert.equal(d.trip?.limit, 1000);
    assert.equal(d.trip?.sample[0], 'big', 'largest first');
  });

  it('exactly max-delete does not trip', () => {
    const g = new DeleteGuard(cfg({ maxDeletePercent: 0 }));
    g.reconcile([{ path: 'big', type: 'dir' }], 0);
    g.setCount('big', { total: 1000, established: 1000 });
    assert.equal(g.decide(10_000, 1_000_000, false).trip, null);
  });

  it('applied deletes count within the window: a tree removed in slices trips', () => {
    const g = new DeleteGuard(cfg({ delayMs: 0, maxDeletePercent: 0, maxDelete: 100, windowMs: 60_000 }));
    let t = 0;
    let tripped = false;
    for (let i = 0; i < 20 && !tripped; i++) {
      const names = Array.from({ length: 10 }, (_, j) => `s${i}/${j}`);
      g.reconcile(files(...names), t);
      const d = g.decide(t, 10_000, false);
      if (d.trip) { tripped = true; break; }
      g.recordApplied(d.apply, t);
      t += 1_000;
    }
    assert.ok(tripped, 'over 100 within a minute');
  });

  it('slices spread wider than the window do not trip', () => {
    const g = new DeleteGuard(cfg({ delayMs: 0, maxDeletePercent: 0, maxDelete: 100, windowMs: 60_000 }));
    for (let i = 0; i < 30; i++) {
      const t = i * 31_000;
      g.reconcile(files(...Array.from({ length: 50 }, (_, j) => `s${i}/${j}`)), t);
      const d = g.decide(t, 10_000, false);
      assert.equal(d.trip, null, `slice ${i}`);
      g.recordApplied(d.apply, t);
    }
  });

  it('trips over the percent of established entries, counted against the tree before the window', () => {
    const g = new DeleteGuard(cfg({ maxDelete: 0 }));
    g.reconcile([{ path: 'd', type: 'dir' }], 0);
    g.setCount('d', { total: 30, established: 30 });
    assert.equal(g.decide(10_000, 200, false).trip, null, '30 of 200 = 15 %');
    const d = g.decide(10_000, 100, false);
    assert.equal(d.trip?.which, 'max-delete-percent');
    assert.equal(d.trip?.limit, 25);
  });

  it('the percent limit ignores young names (created by the session within the window)', () => {
    const g = new DeleteGuard(cfg({ maxDelete: 0 }));
    const young = Array.from({ length: 500 }, (_, i) => `tmp${i}`);
    g.noteCreated(young, 0);
    assert.ok(g.isYoung('tmp1', 1));
    g.reconcile(files(...young), 1_000);
    assert.equal(g.decide(10_000, 600, false).trip, null);
    assert.ok(!g.isYoung('tmp1', 600_000), 'no longer young after the window');
  });

  it('young names still count toward max-delete', () => {
    const g = new DeleteGuard(cfg({ maxDelete: 100, maxDeletePercent: 0 }));
    const young = Array.from({ length: 101 }, (_, i) => `t${i}`);
    g.noteCreated(young, 0);
    g.reconcile(files(...young), 1);
    assert.equal(g.decide(10_000, 1000, false).trip?.which, 'max-delete');
  });

  it('below the floor of established entries the percent does not apply', () => {
    const g = new DeleteGuard(cfg({ maxDelete: 0 }));
    const names = Array.from({ length: PERCENT_FLOOR - 1 }, (_, i) => `f${i}`);
    g.reconcile(files(...names), 0);
    assert.equal(g.decide(10_000, names.length, false).trip, null, 'a tiny tree emptied: root_emptied covers it');
  });

  it('a confirmed deletion applies everything pending at once, over the limits', () => {
    const g = new DeleteGuard(cfg({ maxDelete: 10 }));
    g.reconcile(files(...Array.from({ length: 50 }, (_, i) => `f${i}`)), 0);
    assert.ok(g.decide(0, 100, false).trip);
    const d = g.decide(0, 100, true);
    assert.equal(d.trip, null);
    assert.equal(d.apply.length, 50);
  });

  it('no limits: never trips (property)', () => {
    fc.assert(fc.property(fc.array(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 200 }), fc.nat(1000), (names, n) => {
      const g = new DeleteGuard(cfg({ maxDelete: 0, maxDeletePercent: 0 }));
      g.reconcile(files(...new Set(names)), 0);
      assert.equal(g.decide(10_000, n, false).trip, null);
      assert.equal(g.enabled, false);
    }));
  });

  it('apply and hold partition the pending set and trip applies nothing (property)', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 3 }), { maxLength: 60 }), fc.nat(20_000), fc.nat(200), (names, now, slave) => {
      const g = new DeleteGuard(cfg({ maxDelete: 30 }));
      g.reconcile(files(...names), 0);
      const d = g.decide(now, slave, false);
      assert.deepEqual([...d.apply, ...d.hold].sort(), [...names].sort());
      if (d.trip) assert.equal(d.apply.length, 0);
      if (names.length > 30) assert.ok(d.trip);
    }));
  });
});

describe('DeleteGuard: young names', () => {
  it('remembers at most MAX_YOUNG, forgetting the oldest (which then count as established)', () => {
    const g = new DeleteGuard(cfg());
    g.noteCreated(Array.from({ length: MAX_YOUNG }, (_, i) => `n${i}`), 0);
    g.noteCreated(['newest'], 1);
    assert.ok(!g.isYoung('n0', 2), 'the oldest is forgotten');
    assert.ok(g.isYoung('n1', 2) && g.isYoung('newest', 2));
  });

  it('a name created again is young from its latest creation', () => {
    const g = new DeleteGuard(cfg({ windowMs: 100 }));
    g.noteCreated(['a', 'b'], 0);
    g.noteCreated(['a'], 90);
    g.decide(150, 0, false); // prunes
    assert.ok(g.isYoung('a', 150));
    assert.ok(!g.isYoung('b', 150));
  });
});

describe('DeleteGuard: how far a subtree is counted', () => {
  it('one past --max-delete; without it, one past what the percent allows (not 2 entries)', () => {
    assert.equal(new DeleteGuard(cfg({ maxDelete: 1000, maxDeletePercent: 25 })).countBudget(400), 1001);
    assert.equal(new DeleteGuard(cfg({ maxDelete: 1000, maxDeletePercent: 25 })).countBudget(10_000), 1001);
    assert.equal(new DeleteGuard(cfg({ maxDelete: 0, maxDeletePercent: 25 })).countBudget(10_000), 2501);
    assert.equal(new DeleteGuard(cfg({ maxDelete: 0, maxDeletePercent: 25 })).countBudget(0), PERCENT_FLOOR + 1);
  });
});
