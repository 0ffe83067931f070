// Files with holes keep them on the slave (their rsync run gets --sparse); dense files do not
// pay for it (their runs go without --sparse, which makes rsync scan every block for zeros).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { gsyncd, logLines } from '../support/gsyncd.js';
import { requireRoot, testCleanup, tmpDir } from '../support/proc.js';

const MiB = 1 << 20;

test('sparse files stay sparse on the slave; dense files go in runs without --sparse', { timeout: 120_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const master = await tmpDir('master', stack);
  const slave = await tmpDir('slave', stack);
  // 32 MiB with 4 KiB of data at 1 MiB and at the end; the rest is holes.
  const holey = path.join(master, 'holey.img');
  const fd = fs.openSync(holey, 'w');
  fs.writeSync(fd, Buffer.alloc(4096, 7), 0, 4096, MiB);
  fs.writeSync(fd, Buffer.alloc(4096, 9), 0, 4096, 32 * MiB - 4096);
  fs.closeSync(fd);
  fs.writeFileSync(path.join(master, 'dense.bin'), Buffer.alloc(2 * MiB, 5));
  if (fs.statSync(holey).blocks * 512 >= 32 * MiB) t.skip('this file system does not keep holes');

  const r = await gsyncd(['--once', '--state-dir', await tmpDir('state', stack), '--log-level', 'debug', master, `file://${slave}`]);
  assert.equal(r.code, 0, r.stderr);

  const copy = path.join(slave, 'holey.img');
  assert.deepEqual(fs.readFileSync(copy), fs.readFileSync(holey), 'the sparse file arrives byte for byte');
  assert.ok(fs.statSync(copy).blocks * 512 < 4 * MiB, `holes kept: ${fs.statSync(copy).blocks * 512} bytes allocated of 32 MiB`);
  assert.deepEqual(fs.readFileSync(path.join(slave, 'dense.bin')), fs.readFileSync(path.join(master, 'dense.bin')));

  const runs = logLines(r.stdout + r.stderr, 'rsync run');
  assert.ok(runs.some((l) => l['via'] === 'sparse' && l['files'] === 1), `one --sparse run for the sparse file: ${JSON.stringify(runs)}`);
  assert.ok(runs.some((l) => l['via'] === 'rsync' && Number(l['files']) >= 1), `the dense file in a run without --sparse: ${JSON.stringify(runs)}`);
});
