import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  URXTIME, compareXtime, decodeXtime, encodeXtime, formatXtime, maxXtime, xtimeFromMs, xtimeNewer, xtimeToMs,
  type Xtime,
} from '../../../src/core/xtime.js';

const U32 = 0xffffffff;
const xtime: fc.Arbitrary<Xtime> = fc
  .tuple(fc.integer({ min: 0, max: U32 }), fc.integer({ min: 0, max: 999_999 }))
  .map(([sec, usec]) => ({ sec, usec }));
const sign = (n: number) => (n > 0 ? 1 : n < 0 ? -1 : 0);

describe('compareXtime', () => {
  it('is lexicographic on (sec, usec)', () => {
    assert.ok(compareXtime({ sec: 1, usec: 0 }, { sec: 0, usec: 999_999 }) > 0);
    assert.ok(compareXtime({ sec: 5, usec: 1 }, { sec: 5, usec: 2 }) < 0);
    assert.equal(compareXtime({ sec: 5, usec: 7 }, { sec: 5, usec: 7 }), 0);
    assert.ok(xtimeNewer({ sec: 2, usec: 0 }, { sec: 1, usec: 999_999 }));
    assert.ok(!xtimeNewer({ sec: 1, usec: 0 }, { sec: 1, usec: 0 }));
  });

  it('agrees with the (sec, usec) tuple order, is antisymmetric and reflexive (property)', () => {
    fc.assert(fc.property(xtime, xtime, (a, b) => {
      const expected = a.sec !== b.sec ? sign(a.sec - b.sec) : sign(a.usec - b.usec);
      assert.equal(sign(compareXtime(a, b)), expected);
      assert.equal(sign(compareXtime(b, a)), -expected);
      assert.equal(compareXtime(a, a), 0);
      assert.equal(xtimeNewer(a, b), expected > 0);
    }));
  });

  it('is transitive (property)', () => {
    fc.assert(fc.property(xtime, xtime, xtime, (a, b, c) => {
      const sorted = [a, b, c].sort(compareXtime);
      assert.ok(compareXtime(sorted[0]!, sorted[1]!) <= 0);
      assert.ok(compareXtime(sorted[1]!, sorted[2]!) <= 0);
      assert.ok(compareXtime(sorted[0]!, sorted[2]!) <= 0);
    }));
  });

  it('maxXtime returns the newer of the two (property)', () => {
    fc.assert(fc.property(xtime, xtime, (a, b) => {
      const m = maxXtime(a, b);
      assert.ok(m === a || m === b);
      assert.ok(compareXtime(m, a) >= 0 && compareXtime(m, b) >= 0);
    }));
  });
});

describe('URXTIME', () => {
  it('is older than every real xtime, including 0.000000', () => {
    assert.ok(compareXtime(URXTIME, { sec: 0, usec: 0 }) < 0);
    assert.ok(xtimeNewer({ sec: 0, usec: 0 }, URXTIME));
    fc.assert(fc.property(xtime, (x) => {
      assert.ok(xtimeNewer(x, URXTIME));
      assert.ok(!xtimeNewer(URXTIME, x));
      assert.equal(maxXtime(URXTIME, x), x);
    }));
  });

  it('equals itself, is frozen, cannot be encoded, formats as -inf', () => {
    assert.equal(compareXtime(URXTIME, { sec: -1, usec: 0 }), 0);
    assert.ok(Object.isFrozen(URXTIME));
    assert.throws(() => encodeXtime(URXTIME), RangeError);
    assert.equal(formatXtime(URXTIME), '-inf');
  });
});

describe('encodeXtime / decodeXtime', () => {
  it('encodes as 8 bytes big-endian (sec, usec)', () => {
    const b = encodeXtime({ sec: 0x01020304, usec: 0x000a0b0c });
    assert.deepEqual([...b], [1, 2, 3, 4, 0, 0x0a, 0x0b, 0x0c]);
    assert.deepEqual(decodeXtime(Buffer.from([0, 0, 0, 1, 0, 0, 0, 2])), { sec: 1, usec: 2 });
    assert.deepEqual(decodeXtime(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])), { sec: U32, usec: 0 });
  });

  it('round-trips every valid xtime (property)', () => {
    fc.assert(fc.property(xtime, (x) => {
      const b = encodeXtime(x);
      assert.equal(b.length, 8);
      assert.deepEqual(decodeXtime(b), x);
    }));
  });

  it('byte order of encodings equals xtime order (property)', () => {
    fc.assert(fc.property(xtime, xtime, (a, b) => {
      assert.equal(sign(Buffer.compare(encodeXtime(a), encodeXtime(b))), sign(compareXtime(a, b)));
    }));
  });

  it('decode of any 8-byte buffer re-encodes to the same bytes (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 8, maxLength: 8 }), (bytes) => {
      const x = decodeXtime(Buffer.from(bytes));
      assert.ok(x);
      assert.deepEqual([...encodeXtime(x)], [...bytes]);
    }));
  });

  it('returns null for absent or wrong-length values', () => {
    assert.equal(decodeXtime(null), null);
    assert.equal(decodeXtime(undefined), null);
    for (const n of [0, 1, 4, 7, 9, 12, 16]) assert.equal(decodeXtime(Buffer.alloc(n, 1)), null, `length ${n}`);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 32 }).filter((a) => a.length !== 8), (bytes) => {
      assert.equal(decodeXtime(Buffer.from(bytes)), null);
    }));
  });
});

describe('xtimeFromMs / xtimeToMs / formatXtime', () => {
  it('converts whole milliseconds both ways', () => {
    assert.deepEqual(xtimeFromMs(1_500), { sec: 1, usec: 500_000 });
    assert.deepEqual(xtimeFromMs(0), { sec: 0, usec: 0 });
    assert.equal(xtimeToMs({ sec: 2, usec: 250_000 }), 2_250);
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 42 }), (ms) => {
      const x = xtimeFromMs(ms);
      assert.ok(x.usec >= 0 && x.usec < 1_000_000 && x.usec % 1000 === 0);
      assert.equal(xtimeToMs(x), ms);
    }));
  });

  it('formats as sec.usec with six digits', () => {
    assert.equal(formatXtime({ sec: 12, usec: 5 }), '12.000005');
    assert.equal(formatXtime({ sec: 0, usec: 999_999 }), '0.999999');
  });
});
