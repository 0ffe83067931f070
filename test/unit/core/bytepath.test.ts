import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  baseName, depthOf, displayPath, fromBytes, fromText, isWithin, joinRel, parentOf, pathBytes,
} from '../../../src/core/bytepath.js';

// A directory entry's name: never "." or ".." (joinRel reads "." as the root; seed 225338091 drew it).
const nameArb = fc.string({ unit: fc.integer({ min: 1, max: 0xff }).filter((c) => c !== 0x2f).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 8 })
  .filter((n) => n !== '.' && n !== '..');
const relArb = fc.array(nameArb, { minLength: 1, maxLength: 6 }).map((ns) => ns.join('/'));

describe('byte strings', () => {
  it('round-trip arbitrary bytes losslessly (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const p = fromBytes(Buffer.from(bytes));
      assert.equal(p.length, bytes.length);
      assert.deepEqual([...pathBytes(p)], [...bytes]);
      assert.equal(JSON.parse(JSON.stringify(p)), p);
    }));
  });

  it('fromText encodes UTF-8; displayPath decodes it, showing invalid bytes as U+FFFD', () => {
    assert.equal(fromText('é'), '\xc3\xa9');
    assert.equal(displayPath(fromText('日本/é')), '日本/é');
    assert.equal(displayPath('\xff\xfe'), '\ufffd\ufffd');
    assert.deepEqual([...pathBytes('\xff/a')], [0xff, 0x2f, 0x61]);
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (s) => {
      assert.equal(displayPath(fromText(s)), s);
      assert.equal(pathBytes(fromText(s)).toString('utf8'), s);
    }));
  });
});

describe('joinRel / parentOf / baseName / depthOf', () => {
  it('examples', () => {
    assert.equal(joinRel('', 'a'), 'a');
    assert.equal(joinRel('.', 'a'), 'a');
    assert.equal(joinRel('a/b', 'c'), 'a/b/c');
    assert.equal(parentOf('a'), '');
    assert.equal(parentOf('a/b/c'), 'a/b');
    assert.equal(baseName('a/b/c'), 'c');
    assert.equal(baseName('c'), 'c');
    assert.equal(depthOf(''), 0);
    assert.equal(depthOf('a'), 1);
    assert.equal(depthOf('a/b'), 2);
    assert.equal(depthOf('\xff/\xfe/x'), 3);
  });

  it('joinRel and parentOf/baseName are inverse; depth grows by one (property)', () => {
    fc.assert(fc.property(fc.oneof(fc.constant(''), relArb), nameArb, (dir, name) => {
      const p = joinRel(dir, name);
      assert.equal(parentOf(p), dir);
      assert.equal(baseName(p), name);
      assert.equal(depthOf(p), depthOf(dir) + 1);
      assert.equal(joinRel(parentOf(p), baseName(p)), p);
      assert.ok(isWithin(p, dir));
    }));
  });

  it('depthOf counts components (property)', () => {
    fc.assert(fc.property(fc.array(nameArb, { minLength: 1, maxLength: 10 }), (ns) => {
      assert.equal(depthOf(ns.join('/')), ns.length);
    }));
  });
});

describe('isWithin', () => {
  it('examples', () => {
    assert.ok(isWithin('a/b', 'a/b'));
    assert.ok(isWithin('a/b/c', 'a/b'));
    assert.ok(isWithin('a/b/c/d', 'a'));
    assert.ok(!isWithin('a/bc', 'a/b'));
    assert.ok(!isWithin('a/b', 'a/bc'));
    assert.ok(!isWithin('ab', 'a'));
    assert.ok(!isWithin('a', 'a/b'));
    assert.ok(!isWithin('b/a', 'a'));
    assert.ok(isWithin('anything', ''));
    assert.ok(isWithin('', ''));
    assert.ok(!isWithin('', 'a'));
  });

  it('is exactly "dir is a component-wise prefix of rel" (property)', () => {
    // a tiny alphabet so that prefixes, near-prefixes ('a/bc' vs 'a/b') and equality are common
    const small = fc.array(fc.constantFrom('a', 'b', 'ab', '\xff'), { minLength: 1, maxLength: 4 }).map((ns) => ns.join('/'));
    fc.assert(fc.property(fc.oneof(relArb, small), fc.oneof(relArb, small), (a, b) => {
      const ac = a.split('/');
      const bc = b.split('/');
      const prefix = bc.length <= ac.length && bc.every((c, i) => ac[i] === c);
      assert.equal(isWithin(a, b), prefix);
      assert.equal(isWithin(joinRel(b, a), b), true);
    }), { numRuns: 1000 });
  });
});
