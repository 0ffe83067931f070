import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasHoles } from '../../../src/core/entry.js';

test('hasHoles: a regular file whose blocks cover less than its size', () => {
  assert.equal(hasHoles('file', 64 << 20, 8), true, '64 MiB with one 4 KiB block');
  assert.equal(hasHoles('file', 4096, 8), false, 'one full block');
  assert.equal(hasHoles('file', 1, 8), false, 'a tail block holds more than the size');
  assert.equal(hasHoles('file', 4097, 8), true, 'one byte past the allocated blocks');
  assert.equal(hasHoles('file', 0, 0), false, 'empty');
  assert.equal(hasHoles('file', 100, 0), true, 'data and no blocks (all hole)');
  assert.equal(hasHoles('dir', 4096, 0), false, 'not a file');
  assert.equal(hasHoles('symlink', 10, 0), false, 'not a file');
});
