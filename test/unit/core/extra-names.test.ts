import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extraNameVerdict } from '../../../src/core/extra-names.js';

describe('extraNameVerdict', () => {
  const missing = new Set(['swapped']);
  const vanished = new Set(['moving', 'swapped']);
  it('a name the master reuses with another type goes now, vanished or not', () => {
    assert.equal(extraNameVerdict('swapped', missing, vanished, false), 'delete-now');
    assert.equal(extraNameVerdict('swapped', missing, null, true), 'delete-now');
  });
  it('a name that vanished during the listing is kept for the next pass', () => {
    assert.equal(extraNameVerdict('moving', missing, vanished, false), 'keep');
    assert.equal(extraNameVerdict('moving', missing, vanished, true), 'keep');
  });
  it('any other name is deferred to the end of the pass, or ignored with --ignore-deletes', () => {
    assert.equal(extraNameVerdict('gone', missing, vanished, false), 'defer');
    assert.equal(extraNameVerdict('gone', missing, null, true), 'ignore');
  });
});
