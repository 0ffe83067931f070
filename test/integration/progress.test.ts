// A long initial crawl says what it is doing: crawl.progress lines with a growing count.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gsyncd, logLines } from '../support/gsyncd.js';
import { requireRoot, testCleanup, tmpDir } from '../support/proc.js';
import { makeSmallFiles } from '../support/workload.js';

test('initial sync of 20,000 files logs crawl.progress lines with a growing entry count', { timeout: 300_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const master = await tmpDir('master', stack);
  makeSmallFiles(master, 20_000, 50, 100);
  const r = await gsyncd(['--once', '--progress-interval', '0.3', '--state-dir', await tmpDir('state', stack), master, await tmpDir('slave', stack)]);
  assert.equal(r.code, 0, r.stderr);
  const lines = logLines(r.stdout, 'crawl progress');
  assert.ok(lines.length >= 2, `expected progress lines, got ${lines.length}`);
  const counts = lines.map((l) => Number(l['entriesScanned']));
  t.diagnostic(`entriesScanned: ${counts.join(', ')}`);
  assert.ok(counts.every((c, i) => i === 0 || c >= counts[i - 1]!), 'the count never goes down');
  assert.ok(counts[counts.length - 1]! > 0);
  assert.ok(lines.every((l) => l['event'] === 'crawl.progress' && typeof l['rateEntriesS'] === 'number'));
});
