import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { repeatedChurn } from '../../../src/master/worker.js';

describe('repeatedChurn', () => {
  it('counts passes in a row only while a vanished name repeats', () => {
    let run = repeatedChurn(new Set(), ['a: ENOENT'], 0);
    assert.equal(run, 1);
    run = repeatedChurn(new Set(['a: ENOENT']), ['b: ENOENT', 'a: ENOENT'], run);
    assert.equal(run, 2);
    run = repeatedChurn(new Set(['b: ENOENT', 'a: ENOENT']), ['c: ENOENT'], run);
    assert.equal(run, 1, 'other names each pass: a busy master, not a stuck one');
  });
});
