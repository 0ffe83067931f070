import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parentOf } from '../../../src/core/bytepath.js';
import { MonotonicClock, XtimeTable, usFromXtime, xtimeFromUs } from '../../../src/core/tracker-xtime.js';

function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; ; d = parentOf(d)) {
    out.push(d);
    if (d === '') break;
  }
  return out;
}

describe('xtime <-> µs', () => {
  it('round-trips and splits into (sec, usec)', () => {
    assert.deepEqual(xtimeFromUs(1_700_000_000_123_456), { sec: 1_700_000_000, usec: 123_456 });
    assert.equal(usFromXtime({ sec: 1_700_000_000, usec: 123_456 }), 1_700_000_000_123_456);
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff * 1_000_000 }), (us) => {
      const x = xtimeFromUs(us);
      assert.ok(x.usec >= 0 && x.usec < 1_000_000);
      assert.equal(usFromXtime(x), us);
    }));
  });
});

describe('MonotonicClock', () => {
  it('follows the wall clock while it moves forward', () => {
    let wall = 1000;
    const c = new MonotonicClock(0, () => wall);
    assert.equal(c.tick(), 1000);
    wall = 5000;
    assert.equal(c.tick(), 5000);
  });

  it('is strictly increasing when the wall clock stands still or steps back', () => {
    let wall = 10_000;
    const c = new MonotonicClock(0, () => wall);
    const a = c.tick();
    const b = c.tick();
    wall = 10; // NTP step back
    const d = c.tick();
    assert.ok(b > a && d > b);
  });

  it('never issues a value at or below an observed (persisted) one', () => {
    const c = new MonotonicClock(0, () => 100);
    c.observe(1_000_000);
    assert.equal(c.tick(), 1_000_001);
    c.observe(5); // lower: ignored
    assert.equal(c.tick(), 1_000_002);
    const restarted = new MonotonicClock(2_000_000, () => 100);
    assert.equal(restarted.tick(), 2_000_001);
  });

  it('is strictly increasing under any wall clock (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e12 }), fc.array(fc.integer({ min: 0, max: 1e12 }), { maxLength: 60 }), (start, walls) => {
      let i = 0;
      const c = new MonotonicClock(start, () => walls[i++ % Math.max(1, walls.length)] ?? 0);
      let prev = c.last;
      for (let k = 0; k < walls.length; k++) {
        const t = c.tick();
        assert.ok(t > prev);
        prev = t;
      }
    }));
  });
});

describe('XtimeTable', () => {
  it('bump sets the directory and every ancestor to one fresh value; siblings keep theirs', () => {
    let wall = 1_000;
    const t = new XtimeTable(new MonotonicClock(0, () => wall));
    for (const d of ['', 'a', 'a/b', 'a/b/c', 'a/x', 'y']) t.setBaseline(d, 500);
    wall = 2_000;
    const v = t.bump('a/b/c');
    assert.equal(v, 2_000);
    for (const d of ['a/b/c', 'a/b', 'a', '']) assert.equal(t.get(d), v);
    assert.equal(t.get('a/x'), 500);
    assert.equal(t.get('y'), 500);
  });

  it('a bump is strictly newer than everything before it, even with the clock going backwards', () => {
    let wall = 9_000;
    const t = new XtimeTable(new MonotonicClock(0, () => wall));
    const first = t.bump('a/b');
    wall = 1; // clock stepped back
    const second = t.bump('c');
    assert.ok(second > first);
    assert.equal(t.get(''), second);
    assert.equal(t.get('a'), first);
    assert.ok(t.get('')! >= t.get('a')!);
  });

  it('setBaseline never overrides a bump and lifts the clock above the baseline', () => {
    const t = new XtimeTable(new MonotonicClock(0, () => 10));
    const b = t.bump('a');
    assert.equal(t.setBaseline('a', 1), false);
    assert.equal(t.get('a'), b);
    assert.equal(t.setBaseline('z', 1_000_000), true);
    assert.equal(t.get('z'), 1_000_000);
    assert.ok(t.bump('q') > 1_000_000);
  });

  it('adopt gives an unknown directory a fresh value without touching ancestors', () => {
    const t = new XtimeTable(new MonotonicClock(0, () => 10));
    t.setBaseline('', 5);
    const v = t.adopt('new/dir');
    assert.ok(v > 5);
    assert.equal(t.get(''), 5);
    assert.equal(t.adopt('new/dir'), v);
  });

  it('retain drops what is rejected but always keeps the root', () => {
    const t = new XtimeTable(new MonotonicClock(0, () => 10));
    t.bump('a/b');
    t.bump('c');
    assert.equal(t.retain((d) => d === 'c'), 2);
    assert.ok(t.has('') && t.has('c') && !t.has('a') && !t.has('a/b'));
  });

  it('after any sequence of bumps: ancestors ≥ descendants, each bump above all earlier values (property)', () => {
    const seg = fc.constantFrom('a', 'b', 'c');
    const dir = fc.array(seg, { maxLength: 4 }).map((p) => p.join('/'));
    const op = fc.oneof(
      fc.record({ kind: fc.constant('bump' as const), dir }),
      fc.record({ kind: fc.constant('wall' as const), to: fc.integer({ min: 0, max: 1e9 }) }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 50 }), (ops) => {
      let wall = 1e6;
      const t = new XtimeTable(new MonotonicClock(0, () => wall));
      let maxSeen = 0;
      const known = new Set<string>();
      for (const o of ops) {
        if (o.kind === 'wall') { wall = o.to; continue; }
        const v = t.bump(o.dir);
        assert.ok(v > maxSeen, 'strictly newer than any earlier value');
        maxSeen = v;
        for (const a of ancestors(o.dir)) {
          assert.equal(t.get(a), v);
          known.add(a);
        }
      }
      for (const d of known) for (const a of ancestors(d)) assert.ok(t.get(a)! >= t.get(d)!);
    }));
  });
});
