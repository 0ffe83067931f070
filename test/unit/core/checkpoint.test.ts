import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkpointProgress, parseCheckpointTime, resolveCheckpoint } from '../../../src/core/checkpoint.js';
import { isGsyncdError } from '../../../src/core/errors.js';

const now = Date.parse('2026-11-25T14:00:00.750Z');

describe('parseCheckpointTime', () => {
  const cases: Array<[string, number | null]> = [
    ['', null],
    ['  ', null],
    ['now', Date.parse('2026-11-25T14:00:00Z')],
    ['NOW', Date.parse('2026-11-25T14:00:00Z')],
    ['1764079200', 1_764_079_200_000],
    ['1764079200.5', 1_764_079_200_500],
    ['2026-11-25T14:02:11Z', Date.parse('2026-11-25T14:02:11Z')],
    ['2026-11-25T14:02:11.250Z', Date.parse('2026-11-25T14:02:11.250Z')],
    ['2026-11-25T15:02:11+01:00', Date.parse('2026-11-25T14:02:11Z')],
    ['2026-11-25T15:02:11+0100', Date.parse('2026-11-25T14:02:11Z')],
    ['2026-11-25T16:02+02', Date.parse('2026-11-25T14:02:00Z')],
    ['2026-11-25 14:02:11Z', Date.parse('2026-11-25T14:02:11Z')],
    ['2026-11-25', Date.parse('2026-11-25T00:00:00Z')],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} → ${expected === null ? 'no checkpoint' : new Date(expected).toISOString()}`, () => {
      assert.equal(parseCheckpointTime(text, now), expected);
    });
  }

  for (const bad of ['yesterday', '0', '-5', '2026-13-45T00:00:00Z', '2026-11-25T14:02:11', 'now+5', '1e9']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseCheckpointTime(bad, now), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_BAD_OPTION_VALUE'));
    });
  }

  it('says what to add to a zone-less time', () => {
    assert.throws(() => parseCheckpointTime('2026-11-25T14:02', now), /add Z or an offset/);
  });
});

describe('resolveCheckpoint', () => {
  const later = now + 3_600_000;

  it('the same `now` is not re-resolved on restart, and its completion stays', () => {
    const first = resolveCheckpoint('now', undefined, now)!;
    const done = { ...first, completedAt: now + 5000 };
    assert.deepEqual(resolveCheckpoint('now', done, later), done);
  });

  it('another text is a new checkpoint: completion reset', () => {
    const done = { target: 1000, completedAt: 2000, text: '1' };
    assert.deepEqual(resolveCheckpoint('1764079200', done, later), { target: 1_764_079_200_000, text: '1764079200' });
  });

  it('an empty text clears it', () => {
    assert.equal(resolveCheckpoint('', { target: 1000, text: '1' }, now), undefined);
  });

  it('a persisted checkpoint without text is kept when it resolves the same, or for now', () => {
    const old = { target: 1_764_079_200_000, completedAt: 5 };
    assert.deepEqual(resolveCheckpoint('1764079200', old, now), { ...old, text: '1764079200' });
    assert.deepEqual(resolveCheckpoint('now', old, later), { ...old, text: 'now' });
    assert.deepEqual(resolveCheckpoint('2026-01-01', old, now), { target: Date.parse('2026-01-01T00:00:00Z'), text: '2026-01-01' });
  });
});

describe('checkpointProgress', () => {
  it('none: nothing to do', () => {
    assert.deepEqual(checkpointProgress(undefined, 5, now), { checkpoint: undefined, completed: false, justCompleted: false });
  });

  it('pending while synced_up_to < T_c or unknown', () => {
    const cp = { target: 1000 };
    assert.equal(checkpointProgress(cp, 999, now).completed, false);
    assert.equal(checkpointProgress(cp, undefined, now).completed, false);
  });

  it('completes at synced_up_to ≥ T_c; the time is recorded once', () => {
    const cp = { target: 1000, text: 'x' };
    const first = checkpointProgress(cp, 1000, now);
    assert.deepEqual(first, { checkpoint: { target: 1000, text: 'x', completedAt: now }, completed: true, justCompleted: true });
    const again = checkpointProgress(first.checkpoint, 5000, now + 99);
    assert.deepEqual(again, { checkpoint: first.checkpoint, completed: true, justCompleted: false });
  });
});
