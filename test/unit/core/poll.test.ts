import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IDLE_SLOWDOWN_AFTER_MS, pauseBeforeNextPass } from '../../../src/core/poll.js';

describe('pauseBeforeNextPass', () => {
  it('is change-interval while the master changed within the last 10 s', () => {
    assert.equal(pauseBeforeNextPass(500, 0), 500);
    assert.equal(pauseBeforeNextPass(500, IDLE_SLOWDOWN_AFTER_MS - 1), 500);
  });

  it('doubles on an idle master, to at most 1 s', () => {
    assert.equal(pauseBeforeNextPass(500, IDLE_SLOWDOWN_AFTER_MS), 1000);
    assert.equal(pauseBeforeNextPass(200, 60_000), 400);
    assert.equal(pauseBeforeNextPass(800, 60_000), 1000);
  });

  it('leaves a change-interval of 1 s or more, or of 0, as it is', () => {
    assert.equal(pauseBeforeNextPass(1000, 60_000), 1000);
    assert.equal(pauseBeforeNextPass(5000, 60_000), 5000);
    assert.equal(pauseBeforeNextPass(0, 60_000), 0);
  });
});
