import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LINK_VERIFY_MAX_WAIT_MS, LINK_VERIFY_MIN_GAP_MS, nextLinkVerifyAt, verifyReason, type VerifySchedule } from '../../../src/core/verify.js';

const T = 1_000_000_000;
const base: VerifySchedule = { linkDebtSince: null, nextLinkVerifyAt: 0, lastVerifyAt: T - 1000, everyMs: 0 };

describe('verifyReason', () => {
  it('nothing open, no period: never', () => {
    assert.equal(verifyReason(base, true, T), null);
    assert.equal(verifyReason(base, false, T + 10 * LINK_VERIFY_MAX_WAIT_MS), null);
  });

  it('open link groups: once caught up, or after the longest wait under churn', () => {
    const open = { ...base, linkDebtSince: T };
    assert.equal(verifyReason(open, true, T), 'link-groups');
    assert.equal(verifyReason(open, false, T + LINK_VERIFY_MAX_WAIT_MS - 1), null, 'a busy master is caught up first');
    assert.equal(verifyReason(open, false, T + LINK_VERIFY_MAX_WAIT_MS), 'link-groups');
  });

  it('open link groups wait for nextLinkVerifyAt', () => {
    const open = { ...base, linkDebtSince: T, nextLinkVerifyAt: T + 5000 };
    assert.equal(verifyReason(open, true, T + 4999), null);
    assert.equal(verifyReason(open, true, T + 5000), 'link-groups');
  });

  it('periodic: every everyMs since the last one, only when caught up', () => {
    const p = { ...base, everyMs: 60_000, lastVerifyAt: T };
    assert.equal(verifyReason(p, true, T + 59_999), null);
    assert.equal(verifyReason(p, true, T + 60_000), 'periodic');
    assert.equal(verifyReason(p, false, T + 600_000), null);
  });
});

describe('nextLinkVerifyAt', () => {
  it('at least the minimum gap, ten verification times, doubled per round up to 32×', () => {
    assert.equal(nextLinkVerifyAt(T, 1000, 0), T + LINK_VERIFY_MIN_GAP_MS);
    assert.equal(nextLinkVerifyAt(T, 60_000, 0), T + 600_000);
    assert.equal(nextLinkVerifyAt(T, 1000, 1), T + 2 * LINK_VERIFY_MIN_GAP_MS);
    assert.equal(nextLinkVerifyAt(T, 1000, 9), T + 32 * LINK_VERIFY_MIN_GAP_MS);
  });
});
