import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { crawlStates, giveUpAfter, restartDelayMs, SLAVE_COMMAND_ATTEMPTS, workerStates } from '../../../src/core/states.js';

describe('restartDelayMs', () => {
  it('doubles from the base with each consecutive failure', () => {
    assert.equal(restartDelayMs(1), 1000);
    assert.equal(restartDelayMs(2), 2000);
    assert.equal(restartDelayMs(3), 4000);
    assert.equal(restartDelayMs(6), 32_000);
    assert.equal(restartDelayMs(0), 1000, 'no failure yet: the base delay');
    assert.equal(restartDelayMs(-3), 1000);
    assert.equal(restartDelayMs(3, 100, 10_000), 400);
  });

  it('is capped at the maximum', () => {
    assert.equal(restartDelayMs(7), 60_000);
    assert.equal(restartDelayMs(100), 60_000);
    assert.equal(restartDelayMs(5000), 60_000, 'no overflow to Infinity/NaN');
    assert.equal(restartDelayMs(10, 100, 5_000), 5_000);
  });

  it('is monotonic, within [base, max], and exactly min(max, base·2^(n-1)) (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10_000_000 }), (n, base, extra) => {
      const max = base + extra;
      const d = restartDelayMs(n, base, max);
      assert.ok(Number.isFinite(d));
      assert.ok(d >= base && d <= max);
      assert.ok(restartDelayMs(n + 1, base, max) >= d);
      assert.equal(d, Math.min(max, base * 2 ** (n - 1)));
      if (d < max) assert.equal(restartDelayMs(n + 1, base, max), Math.min(max, 2 * d));
    }));
  });
});

describe('state enums', () => {
  it('name each state once', () => {
    assert.equal(new Set(workerStates).size, workerStates.length);
    assert.equal(new Set(crawlStates).size, crawlStates.length);
    for (const s of ['initializing', 'active', 'passive', 'faulty', 'stopped']) assert.ok((workerStates as readonly string[]).includes(s), s);
    for (const s of ['initial', 'xtime', 'watch']) assert.ok((crawlStates as readonly string[]).includes(s), s);
  });
});

describe('giveUpAfter', () => {
  it('--max-failures when set, whatever failed', () => {
    assert.equal(giveUpAfter(3, false), 3);
    assert.equal(giveUpAfter(3, true), 3);
  });

  it('with --max-failures 0: forever, except a slave command that cannot start', () => {
    assert.equal(giveUpAfter(0, false), 0);
    assert.equal(giveUpAfter(0, true), SLAVE_COMMAND_ATTEMPTS);
    assert.ok(SLAVE_COMMAND_ATTEMPTS > 1 && SLAVE_COMMAND_ATTEMPTS <= 6, 'a few attempts, under a minute of backoff');
  });
});
