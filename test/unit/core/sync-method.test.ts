import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DataItem } from '../../../src/core/plan.js';
import { AUTO_TAR_MAX_SIZE, AUTO_TAR_MIN_FILES, chooseSyncMethod } from '../../../src/core/sync-method.js';

const item = (path: string, size: number, inplace = false): DataItem => ({ path, size, inplace });
const paths = (items: DataItem[]) => items.map((i) => i.path);

describe('chooseSyncMethod', () => {
  const mixed = [item('small', 10), item('big', 10 << 20), item('linked', 10, true)];

  it('rsync: everything by rsync', () => {
    assert.deepEqual(chooseSyncMethod(mixed, 'rsync'), { tar: [], rsync: mixed });
  });

  it('tar: every item but in-place (hard-link keeping) writes, whatever its size', () => {
    const r = chooseSyncMethod(mixed, 'tar');
    assert.deepEqual([paths(r.tar), paths(r.rsync)], [['small', 'big'], ['linked']]);
  });

  it('tar and auto: what the slave most likely has (attribute changes, renames) stays on rsync, whose quick check sends no data; so do specials', () => {
    const many = Array.from({ length: AUTO_TAR_MIN_FILES }, (_, i) => item(`f${i}`, 100));
    const moved = { ...item('moved', 10 << 20), sameData: true };
    const fifo = { ...item('fifo', 0), special: true };
    for (const method of ['tar', 'auto'] as const) {
      const r = chooseSyncMethod([...many, moved, fifo], method);
      assert.deepEqual(paths(r.rsync), ['moved', 'fifo'], method);
      assert.equal(r.tar.length, many.length);
    }
  });

  it('auto: small files by tar once a batch has enough of them; else all by rsync', () => {
    const many = Array.from({ length: AUTO_TAR_MIN_FILES }, (_, i) => item(`f${i}`, i === 0 ? AUTO_TAR_MAX_SIZE : 100));
    const r = chooseSyncMethod([...many, ...mixed], 'auto');
    assert.deepEqual(paths(r.tar), [...paths(many), 'small']);
    assert.deepEqual(paths(r.rsync), ['big', 'linked']);
    const few = many.slice(0, AUTO_TAR_MIN_FILES - 2);
    assert.deepEqual(chooseSyncMethod([...few, ...mixed], 'auto').tar, []);
    assert.equal(chooseSyncMethod([...many.map((i) => ({ ...i, size: AUTO_TAR_MAX_SIZE + 1 }))], 'auto').tar.length, 0);
    assert.equal(chooseSyncMethod(many.map((i) => ({ ...i, inplace: true })), 'auto').tar.length, 0);
  });
});
