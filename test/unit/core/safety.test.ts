import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { haltExplanation, haltReasons, rootEmptiedHalt } from '../../../src/core/safety.js';

describe('rootEmptiedHalt', () => {
  it('halts when a synced master root is suddenly empty while the slave holds entries', () => {
    assert.equal(rootEmptiedHalt(0, 1, true), 'root_emptied');
    assert.equal(rootEmptiedHalt(0, 10_000, true), 'root_emptied');
  });

  it('does not halt for a brand-new session, an empty slave or a non-empty master', () => {
    assert.equal(rootEmptiedHalt(0, 5, false), null, 'never synced: the slave data is not ours');
    assert.equal(rootEmptiedHalt(0, 0, true), null, 'both empty');
    assert.equal(rootEmptiedHalt(0, 0, false), null);
    assert.equal(rootEmptiedHalt(1, 5, true), null, 'master still has an entry');
    assert.equal(rootEmptiedHalt(3, 0, true), null);
  });

  it('halts exactly when master = 0, slave > 0 and ever synced (property)', () => {
    fc.assert(fc.property(fc.nat(5), fc.nat(5), fc.boolean(), (mc, sc, ever) => {
      assert.equal(rootEmptiedHalt(mc, sc, ever), mc === 0 && sc > 0 && ever ? 'root_emptied' : null);
    }));
  });

  it('every halt reason is explained', () => {
    assert.ok(haltReasons.includes('root_emptied'));
    assert.equal(new Set(haltReasons).size, haltReasons.length);
    for (const r of haltReasons) assert.ok(haltExplanation[r].length > 10, r);
    assert.deepEqual(Object.keys(haltExplanation).sort(), [...haltReasons].sort());
  });
});
