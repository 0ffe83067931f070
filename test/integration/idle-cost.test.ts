// The cost of an idle GlusterFS session and of a single deep change, measured in-process on a
// real volume with a 10,000-file tree (100 directories, plus d57/sub/sub2): a Worker built as
// the CLI builds it (workerConfig over defaultOptions) drives a GlusterSource and a LocalSlave,
// and a hook records the source's work counters (getxattr calls, listed directories) and the
// engine's PassReport after every pass.
//  (a) idle: N passes with nothing changing cost exactly N getxattr calls (the root xtime) and
//      list no directory;
//  (b) one new file in d57/sub/sub2/: each pass that picks it up lists exactly the root, d57,
//      d57/sub and d57/sub/sub2 (depth + 1 = 4 directories), and the slave gets the file.
// The slave is pre-seeded with the same data (`cp -a`, what users do before a first sync): the
// worker's initial pass still crawls and compares every directory and stamps every mark, it just
// has no data to send (through the aux mount each small file costs ~13 ms to send).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import type { PassReport } from '../../src/master/engine.js';
import { GlusterSource } from '../../src/master/gluster-source.js';
import { workerConfig } from '../../src/master/session.js';
import { Worker } from '../../src/master/worker.js';
import { defaultOptions } from '../../src/options/tunables.js';
import { LocalSlave } from '../../src/slave/endpoint.js';
import { parseUrl } from '../../src/url/url.js';
import { compareTrees, diffR } from '../support/compare.js';
import { createVolume } from '../support/gluster.js';
import { mustRun, requireRoot, requireTools, testCleanup, tmpDir, waitFor } from '../support/proc.js';
import { makeSmallFiles } from '../support/workload.js';

const FILES = Number(process.env.IDLE_FILES ?? 10_000);
const DIRS = 100;
const N = 20;
const DEEP = ['d57', 'sub', 'sub2'];

interface PassRecord {
  n: number;
  at: number;
  report: PassReport;
  getxattr: number;
  listedDirs: number;
}

/** 10,000 × 4 KiB in d0..d99, and d57/sub/sub2/ with one file: made in a local directory. */
function makeTree(root: string): void {
  makeSmallFiles(root, FILES, DIRS, 4096);
  fs.mkdirSync(path.join(root, ...DEEP), { recursive: true });
  fs.writeFileSync(path.join(root, ...DEEP, 'already-there'), 'deep\n');
}

/** `cp -a` of every top-level directory of `from` into `to`, four at a time (times kept to the ns). */
async function copyInto(from: string, to: string): Promise<void> {
  const dirs = fs.readdirSync(from);
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < dirs.length) {
      const batch = dirs.slice(next, next + 5);
      next += 5;
      await mustRun('cp', ['-a', ...batch.map((d) => path.join(from, d)), `${to}/`], { timeoutMs: 120_000 });
    }
  }));
}

test('idle gluster session: O(1) per poll; one deep change visits only its ancestors', { timeout: 175_000 }, async (t) => {
  requireRoot();
  requireTools(['gluster', 'glusterfs', 'rsync', 'diff']);
  const stack = testCleanup(t);
  const vol = await createVolume({ cleanup: stack });
  const view = await vol.fuseMount();
  const slaveDir = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  const workDir = await tmpDir('work', stack);
  // The slave's copy is made first, locally; the master gets the same tree with `cp -a`.
  let t0 = Date.now();
  makeTree(slaveDir);
  await copyInto(slaveDir, view);
  t.diagnostic(`made ${FILES} files in ${DIRS} dirs on the slave and copied them into the volume (cp -a through FUSE) in ${Date.now() - t0} ms`);

  const masterUrl = `:${vol.name}`;
  const opts = defaultOptions({ 'state-dir': stateDir, 'session-name': 'idle-cost', 'change-interval': 0.1, 'log-level': 'info' });
  // Every idle pass reported at once (the monitor's default is in bulk): counted one by one here.
  const cfg = { ...workerConfig(opts, parseUrl(masterUrl), parseUrl(slaveDir)), idleReportMs: 0 };
  const logFile = path.join(workDir, 'worker.log');
  const log = createLogger({ level: 'info', file: logFile });
  const source = new GlusterSource({
    host: 'localhost', volume: vol.name, connectionTimeoutSec: opts.get('connection-timeout'), log,
    // The volume-mark is re-read every 30 s by default (one more getxattr then): keep it out of
    // the 20 polls measured here so that the count is exact.
    volumeMarkRecheckMs: 3_600_000,
  });
  const slave = new LocalSlave(slaveDir, `file://${slaveDir}`);
  const passes: PassRecord[] = [];
  const worker = new Worker(cfg, source, slave, log, {
    onPass: (report) => { passes.push({ n: passes.length + 1, at: Date.now(), report, getxattr: source.stats.getxattr, listedDirs: source.stats.listedDirs }); },
    onIdle: (n, at) => {
      for (let i = 0; i < n; i++) passes.push({ n: passes.length + 1, at, report: { idle: true, complete: true, dirsVisited: 0 } as PassReport, getxattr: source.stats.getxattr, listedDirs: source.stats.listedDirs });
    },
  });
  t0 = Date.now();
  const running = worker.run();
  let failed = true;
  try {
    const waitPasses = async (pred: () => boolean, what: string, timeoutMs: number) => {
      await Promise.race([
        waitFor(pred, { what, timeoutMs, intervalMs: 20 }),
        running.then((code) => { throw new Error(`the worker ended (exit ${code}) while waiting for ${what}`); }),
      ]);
    };

    // Initial pass, then until the marker's xtimes have settled: three idle passes in a row.
    await waitPasses(() => passes.some((p) => p.report.complete && !p.report.idle), 'the initial pass to complete', 150_000);
    const initial = passes.find((p) => p.report.complete && !p.report.idle)!;
    t.diagnostic(`initial pass: ${Date.now() - t0} ms, dirsVisited ${initial.report.dirsVisited}, scanned ${initial.report.scanned}, dataFiles ${initial.report.dataFiles}, getxattr ${initial.getxattr}, listedDirs ${initial.listedDirs}`);
    assert.equal(initial.report.dirsVisited, DIRS + 3, 'the initial pass visits every directory (root, d0..d99, d57/sub, d57/sub/sub2)');
    await waitPasses(() => passes.length >= 3 && passes.slice(-3).every((p) => p.report.idle), 'three idle passes in a row', 30_000);
    assert.equal(initial.report.dataFiles, 0, 'the pre-seeded files were found identical (nothing to send)');
    // (A whole-tree comparison through FUSE costs minutes here: the deep branch stands for it.)
    assert.deepEqual(compareTrees(path.join(view, DEEP[0]!), path.join(slaveDir, DEEP[0]!)), [], `slave ${DEEP[0]} equals the master's after the initial sync`);

    // (a) idle: N more passes.
    const base = passes[passes.length - 1]!;
    await waitPasses(() => passes.length >= base.n + N, `${N} idle passes`, 60_000);
    const window = passes.slice(base.n, base.n + N);
    const end = window[window.length - 1]!;
    t.diagnostic(`${N} idle passes in ${end.at - base.at} ms: getxattr +${end.getxattr - base.getxattr}, listedDirs +${end.listedDirs - base.listedDirs}`);
    assert.ok(window.every((p) => p.report.idle && p.report.dirsVisited === 0), `every pass of the idle window is idle: ${window.map((p) => `${p.report.idle}/${p.report.dirsVisited}`).join(' ')}`);
    assert.equal(end.getxattr - base.getxattr, N, `${N} idle polls cost exactly ${N} getxattr calls (one root xtime each)`);
    assert.equal(end.listedDirs - base.listedDirs, 0, 'idle polls list no directory');

    // (b) one change deep in the tree.
    const before = passes.length;
    const deepFile = path.join(view, ...DEEP, 'new-deep.txt');
    fs.writeFileSync(deepFile, 'a change deep in the tree\n');
    const slaveCopy = path.join(slaveDir, ...DEEP, 'new-deep.txt');
    const deepDiffs = () => compareTrees(path.join(view, ...DEEP), path.join(slaveDir, ...DEEP));
    await waitPasses(() => fs.existsSync(slaveCopy) && deepDiffs().length === 0, 'the deep change to reach the slave', 30_000);
    // and the passes after it are idle again (no leftover work)
    const reached = passes.length;
    await waitPasses(() => passes.length >= reached + 2 && passes.slice(-2).every((p) => p.report.idle), 'idle again after the change', 30_000);
    const after = passes.slice(before);
    const busy = after.filter((p) => !p.report.idle);
    const describe = busy.map((p) => {
      const prev = passes[p.n - 2]!;
      return { dirsVisited: p.report.dirsVisited, listedDirs: p.listedDirs - prev.listedDirs, getxattr: p.getxattr - prev.getxattr, dataFiles: p.report.dataFiles, complete: p.report.complete };
    });
    t.diagnostic(`passes that did work for the deep change: ${JSON.stringify(describe)}`);
    assert.ok(busy.length >= 1, 'a pass picked up the change');
    for (const d of describe) {
      assert.equal(d.listedDirs, DEEP.length + 1, `a pass for one change in ${DEEP.join('/')} lists only its ${DEEP.length + 1} ancestors' directories: ${JSON.stringify(describe)}`);
      assert.equal(d.dirsVisited, DEEP.length + 1, `PassReport.dirsVisited = ${DEEP.length + 1}: ${JSON.stringify(describe)}`);
    }
    assert.equal(fs.readFileSync(slaveCopy, 'utf8'), 'a change deep in the tree\n');
    assert.equal(await diffR(path.join(view, DEEP[0]!), path.join(slaveDir, DEEP[0]!)), '', `diff -r of ${DEEP[0]} after the deep change`);
    failed = false;
  } finally {
    worker.stop();
    const code = await running;
    if (failed) {
      t.diagnostic(`worker exit ${code}; passes: ${passes.length}; log tail:\n${fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-6000) : '(none)'}`);
    } else {
      assert.equal(code, 0, 'the worker stops cleanly');
    }
  }
});
