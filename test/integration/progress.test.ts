// A long initial crawl says what it is doing: crawl.progress lines with a growing count, bytes
// sent, and (the master being its own file system, so that its size can be estimated) percent
// done and an ETA.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gsyncd, logLines } from '../support/gsyncd.js';
import { mustRun, requireRoot, testCleanup, tmpDir, unmount } from '../support/proc.js';
import { makeSmallFiles } from '../support/workload.js';

test('initial sync of 20,000 files logs crawl.progress lines with a growing entry count', { timeout: 300_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const master = await tmpDir('master', stack);
  await mustRun('mount', ['-t', 'tmpfs', '-o', 'size=256m,mode=0755', 'gsyncd-test-progress', master]);
  stack.defer(`unmount ${master}`, () => unmount(master));
  makeSmallFiles(master, 20_000, 50, 100);
  const r = await gsyncd(['--once', '--progress-interval', '0.3', '--state-dir', await tmpDir('state', stack), master, await tmpDir('slave', stack)]);
  assert.equal(r.code, 0, r.stderr);
  const lines = logLines(r.stdout, 'crawl progress');
  assert.ok(lines.length >= 2, `expected progress lines, got ${lines.length}`);
  const counts = lines.map((l) => Number(l['entriesScanned']));
  t.diagnostic(`entriesScanned: ${counts.join(', ')}`);
  assert.ok(counts.every((c, i) => i === 0 || c >= counts[i - 1]!), 'the count never goes down');
  assert.ok(counts[counts.length - 1]! > 0);
  assert.ok(lines.every((l) => l['event'] === 'crawl.progress' && typeof l['rateEntriesS'] === 'number' && typeof l['bytesSent'] === 'number'));
  const bytes = lines.map((l) => Number(l['bytesSent']));
  assert.ok(bytes.every((b, i) => i === 0 || b >= bytes[i - 1]!), `bytes sent never go down: ${bytes.join(', ')}`);
  // ~20,050 entries on a file system of its own: the estimate is close and gives an ETA.
  const withEta = lines.filter((l) => typeof l['etaS'] === 'number' && typeof l['percent'] === 'number');
  t.diagnostic(`estimates: ${lines.map((l) => `${String(l['entriesEstimated'])}/${String(l['percent'])}%/eta ${String(l['etaS'])}`).join(', ')}`);
  assert.ok(withEta.length >= 1, 'at least one line with percent and ETA');
  for (const l of withEta) assert.ok(Math.abs(Number(l['entriesEstimated']) - 20_050) < 200, `estimate ${String(l['entriesEstimated'])}`);
});
