import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freshCounters, judgePass, type PassCounters, type PassSummary } from '../../../src/core/pass-outcome.js';

const pass = (more: Partial<PassSummary> = {}): PassSummary =>
  ({ advanced: false, complete: false, idle: false, failures: [], churn: [], heldDeletes: 0, ...more });
const LIMIT = 3;

describe('judgePass', () => {
  it('a complete pass advances and clears the failure and backoff counters', () => {
    const c: PassCounters = { failedPasses: 2, backoff: 2, churnPasses: 2, lastChurn: new Set(['x']) };
    const { verdict, counters } = judgePass(pass({ advanced: true, complete: true }), c, LIMIT);
    assert.equal(verdict, 'advanced');
    assert.deepEqual({ ...counters, lastChurn: [...counters.lastChurn] }, { failedPasses: 0, backoff: 0, churnPasses: 0, lastChurn: [] });
  });

  it('failures count and back off, more each pass', () => {
    let c = freshCounters;
    for (let i = 1; i <= 3; i++) {
      const j = judgePass(pass({ failures: ['a: EIO'] }), c, LIMIT);
      assert.equal(j.verdict, 'failures');
      c = j.counters;
      assert.equal(c.failedPasses, i);
      assert.equal(c.backoff, i);
    }
  });

  it('churn runs again without backing off, until the same name repeats past the limit', () => {
    let c: PassCounters = { ...freshCounters, backoff: 2 };
    const verdicts: string[] = [];
    for (let i = 0; i < 5; i++) {
      const j = judgePass(pass({ churn: ['a: gone'] }), c, LIMIT);
      verdicts.push(j.verdict);
      c = j.counters;
    }
    assert.deepEqual(verdicts, ['churn', 'churn', 'churn', 'churn-stuck', 'churn-stuck']);
    assert.equal(c.backoff, 2, 'reset by the first churn pass, then two stuck passes');
    assert.equal(c.failedPasses, 5);
  });

  it('other names each pass stay churn (a busy master, not a stuck one)', () => {
    let c = freshCounters;
    for (let i = 0; i < 6; i++) {
      const j = judgePass(pass({ churn: [`n${i}: gone`] }), c, LIMIT);
      assert.equal(j.verdict, 'churn');
      c = j.counters;
    }
    assert.equal(c.churnPasses, 1);
  });

  it('held deletes alone are no failure and no backoff', () => {
    const { verdict, counters } = judgePass(pass({ heldDeletes: 4 }), { ...freshCounters, backoff: 3, failedPasses: 1 }, LIMIT);
    assert.equal(verdict, 'deletes-held');
    assert.equal(counters.backoff, 0);
    assert.equal(counters.failedPasses, 1);
  });

  it('an idle pass leaves the counters alone', () => {
    const c: PassCounters = { failedPasses: 1, backoff: 1, churnPasses: 0, lastChurn: new Set() };
    const { verdict, counters } = judgePass(pass({ idle: true }), c, LIMIT);
    assert.equal(verdict, 'none');
    assert.equal(counters.failedPasses, 1);
    assert.equal(counters.backoff, 1);
  });
});
