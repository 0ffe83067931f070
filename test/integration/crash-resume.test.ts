// Crash safety: `gsyncd --once` is killed with SIGKILL at several points of a many-file initial
// sync and restarted each time; at the end the slave equals the master, and at every kill:
//  - no mark claims more than the slave has: a directory whose slave copy carries the session's
//    mark (trusted.gsyncd.<master-id>.xtime) has its whole master subtree on the slave with the
//    same content, type, mode, owner, size and times - for the root mark that is the whole tree;
//    a state file that records a complete pass (rootStime) implies the same;
//  - nothing confirmed is copied again: a slave file that was complete at a kill is never
//    transferred by a later run (gsyncd's rsync runs through a wrapper, given as --rsync-command,
//    that adds `--log-file`: the log lists every file rsync really wrote) and keeps its inode.
// The worker alone is killed, as `kill -9 <worker>` does: its rsync children are orphaned and
// may still finish their files; the test waits for them before looking at the slave.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { getAttributeSync, listAttributesSync } from '@napi-rs/xattr';
import { compareTrees, diffR } from '../support/compare.js';
import { createVolume } from '../support/gluster.js';
import { startGsyncd } from '../support/gsyncd.js';
import { requireRoot, requireTools, testCleanup, tmpDir, unmount, waitFor } from '../support/proc.js';
import { makeSmallFiles } from '../support/workload.js';

/** pid → parent pid of every process now. */
function parentMap(): Map<number, number> {
  const m = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      m.set(Number(d), ppid);
    } catch {
      // gone
    }
  }
  return m;
}

function descendants(pid: number): number[] {
  const m = parentMap();
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    for (const [c, pp] of m) if (pp === p) { out.push(c); queue.push(c); }
  }
  return out;
}

/** Alive and not a zombie (an orphan's zombie may linger if nobody reaps it). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function cmdlineOf(pid: number): string {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '); } catch { return '?'; }
}

function commOf(pid: number): string {
  try { return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return '?'; }
}

interface FileInfo { size: number; mtimeNs: bigint; mode: number; ino: bigint }

function fileInfo(p: string): FileInfo | null {
  try {
    const st = fs.lstatSync(p, { bigint: true });
    return { size: Number(st.size), mtimeNs: st.mtimeNs, mode: Number(st.mode), ino: st.ino };
  } catch {
    return null;
  }
}

/** Every regular file below root, relative paths (ASCII names only in this workload). */
function listFiles(root: string, ignoreRoot: string[] = []): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(rel ? path.join(root, rel) : root, { withFileTypes: true })) {
      if (!rel && ignoreRoot.includes(e.name)) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out;
}

/** The slave copy of `rel` is complete: same type, size, mode, mtime and content as the master's. */
function sameFile(masterDir: string, slaveDir: string, rel: string, masterInfo: FileInfo): FileInfo | null {
  const s = fileInfo(path.join(slaveDir, rel));
  if (!s || s.size !== masterInfo.size || s.mtimeNs !== masterInfo.mtimeNs || s.mode !== masterInfo.mode) return null;
  if (!fs.readFileSync(path.join(masterDir, rel)).equals(fs.readFileSync(path.join(slaveDir, rel)))) return null;
  return s;
}

/** Slave directories (relative, '' = root) carrying a gsyncd mark of any master id. */
function markedDirs(slaveDir: string): { dir: string; key: string; value: string }[] {
  const out: { dir: string; key: string; value: string }[] = [];
  const visit = (rel: string) => {
    const abs = rel ? path.join(slaveDir, rel) : slaveDir;
    for (const key of listAttributesSync(abs)) {
      if (/^trusted\.gsyncd\..*\.xtime$/.test(key)) out.push({ dir: rel, key, value: getAttributeSync(abs, key)?.toString('hex') ?? '' });
    }
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) if (e.isDirectory()) visit(rel ? `${rel}/${e.name}` : e.name);
  };
  visit('');
  return out;
}

/** When to kill; `tree`: kill the worker's rsync children with it (as a crash of the whole
 *  machine would), instead of the worker alone (their half-written temp files stay behind). */
type KillPoint = ({ ms: number } | { files: number } | { marks: true }) & { tree?: boolean };

function describePoint(p: KillPoint): string {
  const what = 'ms' in p ? `${p.ms} ms` : 'files' in p ? `${Math.round(p.files * 100)}% of the files on the slave` : 'first mark on the slave';
  return p.tree ? `${what} (worker and children)` : what;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(pid, sig); } catch { /* gone */ }
}

interface CrashOptions {
  /** Directory for the rsync wrapper and its per-run logs. */
  workDir: string;
  masterUrl: string;
  masterDir: string;
  slaveDir: string;
  stateDir: string;
  session: string;
  /** The master id the marks must carry (volume uuid), or a function reading it after a start. */
  masterId: () => string | null;
  /** Kill points, in order: ms after the start, a fraction of the files on the slave, or when the
   *  first directory mark appears (the pass is stamping marks). */
  kills: KillPoint[];
  ignoreRoot?: string[];
  /** Called after each kill (e.g. to clean up what the killed worker left mounted). */
  afterKill?: () => Promise<void>;
  log: (m: string) => void;
}

/** During start-up and the crawl, during the data phase, with all data there but (maybe) no
 *  marks, and while marks are being stamped. */
const DIR_KILLS: KillPoint[] = [{ ms: 300 }, { files: 0.2 }, { files: 0.5, tree: true }, { files: 0.7 }, { files: 1 }, { marks: true }];
/** Through FUSE the crawl alone takes seconds: also kill during it. */
const GLUSTER_KILLS: KillPoint[] = [{ ms: 300 }, { ms: 2000 }, { files: 0.3, tree: true }, { files: 0.7 }, { marks: true }];

/** rsync as gsyncd runs it, plus a log of every item it transfers (`>f... NAME` for files). */
function rsyncWrapper(dir: string): string {
  const script = path.join(dir, 'rsync-logged.sh');
  fs.writeFileSync(script, '#!/bin/bash\nexec rsync --log-file="$GSYNCD_TEST_RSYNC_LOG" --log-file-format="%i %n" "$@"\n');
  return script;
}

/** Files (relative paths) rsync wrote according to a wrapper log. */
function transferredFiles(log: string): Set<string> {
  const out = new Set<string>();
  if (!fs.existsSync(log)) return out;
  for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
    const m = /^\S+ \S+ \[\d+\] >f\S* (.+)$/.exec(line);
    if (m) out.add(m[1]!);
  }
  return out;
}

async function crashAndResume(o: CrashOptions): Promise<void> {
  const wrapper = rsyncWrapper(o.workDir);
  const args = ['--once', '--state-dir', o.stateDir, '--session-name', o.session, '--log-level', 'info', '--rsync-command', `bash ${wrapper}`, o.masterUrl, o.slaveDir];
  const rsyncLog = (run: number) => path.join(o.workDir, `rsync-run${run}.log`);
  /** Which run wrote each file, for the report. */
  const transfers = new Map<string, number[]>();
  const checkTransfers = (run: number) => {
    for (const f of transferredFiles(rsyncLog(run))) {
      transfers.set(f, [...(transfers.get(f) ?? []), run]);
      assert.ok(!confirmed.has(f), `run ${run} transferred ${f} again although it was complete on the slave at an earlier kill`);
    }
  };
  const masterFiles = listFiles(o.masterDir, o.ignoreRoot);
  const masterInfo = new Map(masterFiles.map((f) => [f, fileInfo(path.join(o.masterDir, f))!]));
  const total = masterFiles.length;
  /** Slave inodes of files that were complete at some kill: they must never change. */
  const confirmed = new Map<string, bigint>();
  let runs = 0;
  const stateFile = path.join(o.stateDir, o.session, 'state.json');

  const countSlaveFiles = () => {
    let n = 0;
    try {
      for (const d of fs.readdirSync(o.slaveDir, { withFileTypes: true })) {
        if (d.isDirectory() && !o.ignoreRoot?.includes(d.name)) n += fs.readdirSync(path.join(o.slaveDir, d.name)).filter((x) => !x.startsWith('.')).length;
      }
    } catch {
      // racing the sync
    }
    return n;
  };

  for (const point of o.kills) {
    runs++;
    const t0 = Date.now();
    const run = startGsyncd(args, { GSYNCD_TEST_RSYNC_LOG: rsyncLog(runs) });
    const exited = () => run.child.exitCode !== null || run.child.signalCode !== null;
    const reached = () => 'ms' in point ? Date.now() - t0 >= point.ms
      : 'files' in point ? countSlaveFiles() >= total * point.files
      : markedDirs(o.slaveDir).length > 0;
    await waitFor(() => exited() || reached(), { what: `kill point ${describePoint(point)}`, timeoutMs: 120_000, intervalMs: 5 });
    if (exited()) {
      await run.stop();
      checkTransfers(runs);
      o.log(`kill point ${describePoint(point)}: run ${runs} had already exited (${run.child.exitCode}) after ${Date.now() - t0} ms`);
      assert.equal(run.child.exitCode, 0, `gsyncd failed before kill point ${describePoint(point)}:\n${run.output().slice(-4000)}`);
      continue;
    }
    let kids: number[];
    if (point.tree) {
      // Freeze everything first so that no process outlives the instant of the "crash".
      signal(run.child.pid!, 'SIGSTOP');
      kids = descendants(run.child.pid!);
      for (const k of kids) signal(k, 'SIGSTOP');
      for (const k of kids) signal(k, 'SIGKILL');
    } else {
      kids = descendants(run.child.pid!);
    }
    await run.kill9();
    const atKill = Date.now() - t0;
    // The orphaned rsyncs finish (or fail) on their own; look at the slave once they are done.
    // A glusterfs client of a mount the killed process made (kill -9 in the middle of start-up)
    // never does: once only such clients are left, their mounts are reaped, as the next gsyncd
    // would (afterKill), until they end.
    const names = kids.map((p) => `${p}(${commOf(p)})`).join(' ');
    await waitFor(async () => {
      const left = kids.filter(alive);
      if (left.length > 0 && left.every((p) => commOf(p) === 'glusterfs')) await o.afterKill?.();
      return kids.every((p) => !alive(p));
    }, { what: `orphaned children ${names} of the killed worker to end`, timeoutMs: 60_000, intervalMs: 50 })
      .catch((err: Error) => { throw new Error(`${err.message}; still alive: ${kids.filter(alive).map((p) => `${p} ${cmdlineOf(p)}`).join(' | ')}; gsyncd output:\n${run.output().slice(-3000)}`); });
    await o.afterKill?.();
    checkTransfers(runs);
    const slaveCount = countSlaveFiles();
    const marks = markedDirs(o.slaveDir);
    const state = fs.existsSync(stateFile) ? JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { rootStime?: string; workerState?: string } : null;
    o.log(`run ${runs}: kill -9 at ${describePoint(point)} (${atKill} ms): ${kids.length} child processes (${[...new Set(kids.map(commOf))].join(',')}), ` +
      `slave has ${slaveCount}/${total} files, ${marks.length} marked dirs, state ${state?.workerState ?? '-'} rootStime ${state?.rootStime ?? '-'}`);

    // Marks never ahead of the slave.
    const id = o.masterId();
    for (const m of marks) {
      if (id) assert.equal(m.key, `trusted.gsyncd.${id}.xtime`, `mark of another master on ${m.dir || '.'}`);
      const prefix = m.dir ? `${m.dir}/` : '';
      const missing = masterFiles.filter((f) => f.startsWith(prefix) && !sameFile(o.masterDir, o.slaveDir, f, masterInfo.get(f)!));
      assert.deepEqual(missing.slice(0, 10), [], `slave dir ${m.dir || '.'} carries mark ${m.value} but ${missing.length} files below it are missing or incomplete`);
      const diffs = compareTrees(m.dir ? path.join(o.masterDir, m.dir) : o.masterDir, m.dir ? path.join(o.slaveDir, m.dir) : o.slaveDir, { ignoreRoot: o.ignoreRoot });
      assert.deepEqual(diffs.slice(0, 10), [], `slave dir ${m.dir || '.'} carries mark ${m.value} but differs from the master`);
    }
    if (state?.rootStime) {
      assert.ok(marks.some((m) => m.dir === ''), `the state file records a complete pass (rootStime ${state.rootStime}) but the slave root has no mark`);
    }

    // Nothing confirmed was re-copied by the runs since.
    for (const [f, ino] of confirmed) {
      const s = fileInfo(path.join(o.slaveDir, f));
      assert.ok(s, `${f} was complete on the slave at an earlier kill and is gone now`);
      assert.equal(s.ino, ino, `${f} was complete on the slave at an earlier kill and was copied again (inode ${ino} -> ${s.ino})`);
    }
    for (const f of masterFiles) {
      if (confirmed.has(f)) continue;
      const s = sameFile(o.masterDir, o.slaveDir, f, masterInfo.get(f)!);
      if (s) confirmed.set(f, s.ino);
    }
  }

  // Run to completion.
  runs++;
  const t0 = Date.now();
  const last = startGsyncd(args, { GSYNCD_TEST_RSYNC_LOG: rsyncLog(runs) });
  const code = await new Promise<number | null>((r) => { if (last.child.exitCode !== null) r(last.child.exitCode); else last.child.on('close', (c) => r(c)); });
  checkTransfers(runs);
  o.log(`final run: exit ${code} in ${Date.now() - t0} ms`);
  assert.equal(code, 0, `the final run failed:\n${last.output().slice(-6000)}`);

  assert.deepEqual(compareTrees(o.masterDir, o.slaveDir, { ignoreRoot: o.ignoreRoot }).slice(0, 20), [], 'slave equals master (stat/xattr/hard links)');
  assert.equal(await diffR(o.masterDir, o.slaveDir, o.ignoreRoot ?? []), '', 'diff -r master slave');
  for (const [f, ino] of confirmed) {
    assert.equal(fileInfo(path.join(o.slaveDir, f))?.ino, ino, `${f} was complete on the slave at a kill and was copied again by a later run`);
  }
  const marks = markedDirs(o.slaveDir);
  assert.ok(marks.some((m) => m.dir === ''), 'the completed sync marked the slave root');
  const multi = [...transfers.values()].filter((r) => r.length > 1).length;
  o.log(`${runs} runs; ${confirmed.size}/${total} files were complete at some kill (never transferred again, same inode); ` +
    `rsync wrote ${[...transfers.values()].reduce((a, r) => a + r.length, 0)} files in all for a tree of ${total} (${transfers.size} distinct, ${multi} more than once: unconfirmed at a kill)`);
  const notSent = masterFiles.filter((f) => !transfers.has(f));
  assert.deepEqual(notSent.slice(0, 10), [], 'every file reached the slave through the logged rsync');
}

test('plain directory master, 10,000 files: kill -9 at start-up, during data, after data and while marking; restart; end state identical', { timeout: 170_000 }, async (t) => {
  requireRoot();
  requireTools(['rsync', 'diff']);
  const stack = testCleanup(t);
  const masterDir = await tmpDir('master', stack);
  const slaveDir = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  const workDir = await tmpDir('work', stack);
  const session = 'crash-dir';
  let t0 = Date.now();
  makeSmallFiles(masterDir, 10_000, 100, 4096);
  t.diagnostic(`made 10,000 × 4 KiB in 100 dirs in ${Date.now() - t0} ms`);
  t0 = Date.now();
  await crashAndResume({
    workDir, masterUrl: masterDir, masterDir, slaveDir, stateDir, session,
    masterId: () => { try { return fs.readFileSync(path.join(stateDir, session, 'tracker', 'volume-id'), 'utf8').trim(); } catch { return null; } },
    kills: DIR_KILLS,
    log: (m) => t.diagnostic(m),
  });
  t.diagnostic(`crash/resume cycle took ${Date.now() - t0} ms`);
});

test('gluster volume master, 1,000 files: kill -9 at start-up, during data, after data and while marking; restart; end state identical', { timeout: 170_000 }, async (t) => {
  requireRoot();
  requireTools(['gluster', 'glusterfs', 'rsync', 'diff']);
  const stack = testCleanup(t);
  const vol = await createVolume({ cleanup: stack });
  const view = await vol.fuseMount();
  const slaveDir = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  const workDir = await tmpDir('work', stack);
  let t0 = Date.now();
  // 1,000 rather than 2,000 files: through gsyncd's aux mount (zero cache timeouts) a small file
  // costs ~13 ms to crawl and rsync, and every restart crawls the tree again.
  makeSmallFiles(view, 1000, 10, 4096);
  t.diagnostic(`made 1,000 × 4 KiB in 10 dirs through FUSE in ${Date.now() - t0} ms`);
  // A killed worker cannot unmount its aux mount: unmount what it left (and count it).
  let leaked = 0;
  const reapAuxMounts = async () => {
    for (const line of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
      const [src, mnt, type] = line.split(' ');
      if (type === 'fuse.glusterfs' && mnt?.includes('/gsyncd-aux-mount-') && new RegExp(`^[^:]+:/?${vol.name}$`).test(src ?? '')) {
        leaked++;
        await unmount(mnt);
        try { fs.rmdirSync(mnt); } catch { /* busy or gone */ }
        fs.rmSync(`${mnt}.pid`, { force: true });
      }
    }
  };
  stack.defer('unmount aux mounts left by killed workers', reapAuxMounts);
  t0 = Date.now();
  await crashAndResume({
    workDir, masterUrl: `:${vol.name}`, masterDir: view, slaveDir, stateDir, session: 'crash-gluster',
    masterId: () => vol.uuid,
    kills: GLUSTER_KILLS,
    ignoreRoot: ['.gfid'],
    afterKill: reapAuxMounts,
    log: (m) => t.diagnostic(m),
  });
  t.diagnostic(`crash/resume cycle took ${Date.now() - t0} ms; aux mounts left behind by killed workers: ${leaked}`);
  const left = leaked;
  await reapAuxMounts();
  assert.equal(leaked - left, 0, 'the run that exited normally left its aux mount behind');
});
