// Reliability 1 - crashes. A continuous session (monitor + worker) mirrors a 10,000-file directory
// from namespace A to a slave directory in namespace B over SSH (real sshd, forced-command
// dispatcher). At 20 random instants during the sync one process is killed with SIGKILL:
//   worker   the monitor's child; the monitor must restart it (its orphaned rsyncs may finish);
//   rsync    an rsync client of the worker, mid-transfer; the engine must retry it;
//   slave    the `gsyncd --slave` process on B; the worker must reconnect;
//   monitor  the supervisor; its worker must stop by itself (never two workers on one session),
//            and the test restarts the session as an operator would.
// Waves of master changes (creates, appends, renames, hard links, deletes, chmods) keep work in
// flight, so every kill lands in a busy sync. At the end the slave must equal the master:
// nothing lost (every entry, content, mode, time, hard-link group), nothing duplicated (no extra
// entries: no rename leftovers, parked names or rsync temp files), the state file readable at
// every kill, /status in-sync, and exactly one worker and one slave process alive.
// Seed: GSYNCD_TEST_SEED=N repeats a run's kill instants. Subnet block 220 (docs/testing.md).
// Second test: a continuous session stops on SIGTERM (an operator restart needs that).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { compareTrees, diffR } from '../support/compare.js';
import type { RunningGsyncd } from '../support/gsyncd.js';
import { requireRoot, requireTools, sleep, testCleanup, waitFor } from '../support/proc.js';
import { makeSmallFiles } from '../support/workload.js';
import {
  alive, converge, descendants, getStatus, kill9, processes, randInt, readStateFile, remoteSession, rsyncsOf,
  seededRandom, seedFromEnv, slaveProcesses, waitGone, workerOf, type RemoteSession,
} from './lib.js';

type Target = 'worker' | 'rsync' | 'slave' | 'monitor';

/** How long the worker of a killed monitor may go on (it finishes its current pass, then stops). */
const ORPHAN_GRACE_MS = 60_000;

/** Regular files below root. */
function countFiles(root: string): number {
  let n = 0;
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(d, { withFileTypes: true }); } catch { return; } // racing the sync
    for (const e of entries) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (e.isFile()) n++;
    }
  };
  walk(root);
  return n;
}

/** A wave of master changes so that a kill always finds a sync in progress. */
function wave(root: string, k: number, rng: () => number): string {
  const dirs = fs.readdirSync(root).filter((d) => /^d\d+$/.test(d));
  const pickDir = () => dirs[randInt(rng, 0, dirs.length - 1)]!;
  const filesIn = (d: string) => fs.readdirSync(path.join(root, d)).filter((f) => fs.lstatSync(path.join(root, d, f)).isFile());
  const nd = path.join(root, `w${k}`);
  fs.mkdirSync(nd);
  let ops = 0;
  for (let i = 0; i < 400; i++, ops++) fs.writeFileSync(path.join(nd, `n${i}`), `wave ${k} file ${i}\n`.repeat(1 + (i % 50)));
  for (let i = 0; i < 60; i++, ops++) {
    const d = pickDir();
    const fs1 = filesIn(d);
    const f = fs1[randInt(rng, 0, fs1.length - 1)];
    if (!f) continue;
    const p = path.join(root, d, f);
    switch (i % 6) {
      case 0: fs.appendFileSync(p, `appended in wave ${k}\n`); break;
      case 1: fs.renameSync(p, path.join(root, pickDir(), `r${k}-${i}-${f}`)); break;
      case 2: fs.rmSync(p); break;
      case 3: fs.linkSync(p, path.join(root, pickDir(), `l${k}-${i}-${f}`)); break;
      case 4: fs.chmodSync(p, 0o600); break;
      case 5: fs.truncateSync(p, 100); break;
    }
  }
  // A renamed directory (with its files) moves on the slave.
  const from = pickDir();
  fs.renameSync(path.join(root, from), path.join(root, `${from}-moved${k}`));
  dirs.splice(dirs.indexOf(from), 1);
  return `wave ${k}: ${ops + 1} ops (400 creates, appends, renames, deletes, hard links, chmods, truncates, a directory rename)`;
}

test('kill -9 of worker, rsync, slave and monitor at 20 random instants during a 10,000-file sync over SSH: converges, nothing lost or duplicated', { timeout: 240_000 }, async (t) => {
  requireRoot();
  requireTools(['rsync', 'diff', 'ip', '/usr/sbin/sshd']);
  const stack = testCleanup(t);
  const seed = seedFromEnv();
  const rng = seededRandom(seed);
  t.diagnostic(`seed ${seed} (GSYNCD_TEST_SEED=${seed} repeats these instants)`);
  const s: RemoteSession = await remoteSession(220, stack);
  let t0 = Date.now();
  makeSmallFiles(s.masterDir, 10_000, 100, 4096);
  t.diagnostic(`made 10,000 × 4 KiB in 100 dirs in ${Date.now() - t0} ms`);

  const targets: Target[] = (['worker', 'rsync', 'slave', 'monitor'] as const).flatMap((x) => [x, x, x, x, x]);
  for (let i = targets.length - 1; i > 0; i--) { const j = randInt(rng, 0, i); [targets[i], targets[j]] = [targets[j]!, targets[i]!]; }

  const start = () => s.start(['--log-level', 'info', '--change-interval', '0.3']);
  let monitor: RunningGsyncd = start();
  const kills: string[] = [];
  let waves = 0;
  let tornStates = 0;
  /** Workers (and their children) of killed monitors: each must stop on its own. */
  const orphans: { killedAt: number; monitor: number; procs: { pid: number; what: string }[]; goneAt?: number }[] = [];
  const runStart = Date.now();

  /** Wait for the session to be busy (a worker, a slave, and work pending) and return the target's pid. */
  const findTarget = async (target: Target): Promise<{ pid: number; busy: string }> => {
    const deadline = Date.now() + 60_000;
    let lastWaveAt = 0;
    for (;;) {
      assert.ok(Date.now() < deadline, `no ${target} to kill within 60 s (monitor alive: ${alive(monitor.child.pid!)})\n${monitor.output().slice(-3000)}`);
      const all = processes();
      const worker = workerOf(monitor.child.pid!, all);
      const slave = slaveProcesses(s.slaveDir, all)[0];
      const st = await getStatus(s.httpBase);
      const crawl = st?.sessions[0]?.workers[0]?.crawl ?? '?';
      const state = st?.sessions[0]?.workers[0]?.state ?? '?';
      const rsyncs = worker ? rsyncsOf(worker.pid, all) : [];
      // Idle with nothing to do: give the sync something to do.
      if (worker && slave && crawl === 'idle' && state === 'active' && Date.now() - lastWaveAt > 3000) {
        waves++;
        t.diagnostic(wave(s.masterDir, waves, rng));
        lastWaveAt = Date.now();
        continue;
      }
      const busy = `crawl=${crawl} state=${state} rsyncs=${rsyncs.length}`;
      if (worker && slave && (crawl === 'initial' || crawl === 'xtime')) {
        if (target === 'worker') return { pid: worker.pid, busy };
        if (target === 'monitor') return { pid: monitor.child.pid!, busy };
        if (target === 'slave') return { pid: slave.pid, busy };
        if (rsyncs[0]) return { pid: rsyncs[0].pid, busy };
      }
      await sleep(target === 'rsync' ? 20 : 100);
    }
  };

  for (let i = 0; i < targets.length; i++) {
    const target = targets[i]!;
    // The random instant: a random delay once the session is up, then the next moment the
    // target exists while a pass is running.
    await sleep(randInt(rng, 100, 2500));
    // A target seen busy can still end on its own before the kill (a worker that cannot take
    // the session lock while a killed monitor's orphaned worker holds it exits, and is
    // restarted): then the instant is picked again.
    let pid: number, busy: string, workerBefore: number | undefined, orphanProcs: { pid: number; what: string }[];
    for (let attempt = 1; ; attempt++) {
      ({ pid, busy } = await findTarget(target));
      workerBefore = workerOf(monitor.child.pid!)?.pid;
      orphanProcs = target === 'monitor' ? descendants(pid).map((p) => ({ pid: p.pid, what: `${p.comm}<-${p.ppid}` })) : [];
      if (kill9(pid)) break;
      assert.ok(!alive(pid) && attempt < 20, `kill -9 ${target} ${pid}`);
      t.diagnostic(`${target} ${pid} ended on its own before the kill: picking the instant again`);
    }
    const at = Date.now() - runStart;
    // The state file is written atomically: a kill never leaves it torn.
    try { readStateFile(s.stateFile); } catch (err) { tornStates++; t.diagnostic(String(err)); }
    if (target === 'monitor') {
      // Restarted at once, as systemd's Restart=always would. The orphaned worker notices the
      // lost IPC channel and stops on its own (after its current pass); meanwhile the new
      // monitor's worker runs too. Both must leave a correct slave.
      monitor = start();
      const o: (typeof orphans)[number] = { killedAt: Date.now(), monitor: pid, procs: orphanProcs };
      orphans.push(o);
      void waitGone(orphanProcs.map((p) => p.pid), 'orphans', 600_000).then(() => { o.goneAt = Date.now(); }, () => {});
    }
    const slaveFiles = countFiles(s.slaveDir);
    kills.push(`#${i + 1} ${(at / 1000).toFixed(1)} s kill -9 ${target} pid ${pid} (${busy}; worker was ${workerBefore ?? '-'}; ${slaveFiles} files on the slave)`);
    t.diagnostic(kills.at(-1)!);
  }

  t0 = Date.now();
  const dumpLogs = () => { fs.writeFileSync(`/tmp/gsyncd-crash-${process.pid}.log`, s.output()); return `(master logs: /tmp/gsyncd-crash-${process.pid}.log)`; };
  let convergeMs: number;
  try {
    convergeMs = await converge(s.masterDir, s.slaveDir, 'the slave to equal the master after the last kill', 120_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${dumpLogs()}`, { cause: err });
  }
  t.diagnostic(`converged ${convergeMs} ms after the last kill (${((Date.now() - runStart) / 1000).toFixed(1)} s in all, ${waves} waves of changes)`);
  t.diagnostic(`faults injected: ${kills.length} (${(['worker', 'rsync', 'slave', 'monitor'] as const).map((k) => `${targets.filter((x) => x === k).length} ${k}`).join(', ')}); ` +
    `${countFiles(s.masterDir)} files on the master`);

  // Nothing lost, nothing duplicated: identical trees (extra entries are differences too).
  assert.deepEqual(compareTrees(s.masterDir, s.slaveDir), [], 'slave equals master (type, mode, owner, size, mtime, xattrs, hard links; no extra entries)');
  assert.equal(await diffR(s.masterDir, s.slaveDir), '', 'diff -r master slave');
  t.diagnostic('nothing lost, nothing duplicated: compareTrees and diff -r report no difference');
  // A worker whose monitor died stops by itself after its current pass (README: never runs
  // unsupervised). A pass here takes well under a minute; allow 60 s from the kill.
  const stuck = async () => {
    const now = Date.now();
    const late = orphans.filter((o) => o.goneAt === undefined && now - o.killedAt > ORPHAN_GRACE_MS);
    return orphans.every((o) => o.goneAt !== undefined || late.includes(o)) ? late : null;
  };
  const late = await waitFor(stuck, { what: 'the workers of killed monitors to stop', timeoutMs: ORPHAN_GRACE_MS + 10_000, intervalMs: 500 });
  if (late.length) {
    const out = s.output();
    const describe = late.map((o) => {
      const left = o.procs.filter((p) => alive(p.pid));
      const lines = left.flatMap((p) => out.split('\n').filter((l) => l.includes(`"pid":${p.pid},`)).slice(-3).map((l) => `    ${l.slice(0, 300)}`));
      return `  monitor ${o.monitor} killed ${((Date.now() - o.killedAt) / 1000).toFixed(0)} s ago; still running: ${left.map((p) => `${p.pid} (${p.what})`).join(', ')}\n${lines.join('\n')}`;
    });
    assert.fail(`${late.length} worker(s) of killed monitors did not stop within ${ORPHAN_GRACE_MS / 1000} s and kept syncing unsupervised next to the restarted monitor's worker:\n${describe.join('\n')}\n${dumpLogs()}`);
  }
  t.diagnostic(`workers of killed monitors stopped ${orphans.map((o) => `${((o.goneAt! - o.killedAt) / 1000).toFixed(1)} s`).join(', ')} after the kill`);
  // The last kill may have been the monitor's or the slave's: its successor connects within a
  // few seconds, so "one slave process" is waited for; more than one never passes.
  const slaveProcs = () => processes().filter((p) => p.cmdline.includes(s.slaveDir) && / --slave /.test(` ${p.cmdline} `));
  const leftovers = await waitFor(() => { const l = slaveProcs(); return l.length === 1 ? l : null; }, { what: 'exactly one slave process', timeoutMs: 30_000, intervalMs: 250 })
    .catch(() => slaveProcs());
  assert.equal(leftovers.length, 1, `exactly one slave process serves the session at the end, saw: ${leftovers.map((p) => p.pid).join(' ')}`);
  const sessionProcs = processes().filter((p) => p.comm === 'node' && p.cmdline.includes(`--state-dir ${s.stateDir} `));
  const workers = sessionProcs.filter((p) => sessionProcs.some((q) => q.pid === p.ppid));
  assert.deepEqual(workers.map((p) => p.ppid), [monitor.child.pid], `exactly one worker, the current monitor's, at the end; session processes: ${sessionProcs.map((p) => `${p.pid}<-${p.ppid}`).join(' ')}`);
  assert.equal(tornStates, 0, 'state.json was readable at every kill');
  const st = await waitFor(async () => { const x = await getStatus(s.httpBase); return x?.verdict === 'in-sync' ? x : null; }, { what: '/status verdict in-sync', timeoutMs: 30_000, intervalMs: 500 });
  const state = readStateFile(s.stateFile);
  t.diagnostic(`restarts recorded ${state?.restarts}; /status ${st.verdict}; lost files 0, extra entries 0`);
});

test('a continuous session stops on SIGTERM (monitor and worker exit, exit status 0)', { timeout: 90_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const s = await remoteSession(221, stack);
  makeSmallFiles(s.masterDir, 200, 4, 1000);
  const run = s.start(['--log-level', 'info']);
  await converge(s.masterDir, s.slaveDir, 'the first sync', 60_000);
  const worker = workerOf(run.child.pid!);
  assert.ok(worker, 'the monitor runs a worker');
  const tree = [run.child.pid!, ...descendants(run.child.pid!).map((p) => p.pid)];
  run.child.kill('SIGTERM');
  try {
    await waitGone(tree, `monitor ${run.child.pid} and worker ${worker.pid} to exit after SIGTERM`, 15_000);
  } catch (err) {
    const left = tree.filter(alive).map((p) => `${p} (${processes().find((x) => x.pid === p)?.cmdline.split(' ').slice(1, 3).join(' ')})`);
    throw new Error(`${(err as Error).message}; still running: ${left.join(', ')}\nlast log lines:\n${run.output().trim().split('\n').slice(-4).join('\n')}`, { cause: err });
  }
  assert.equal(await run.stop(), 0, 'exit status after SIGTERM');
});

test('the worker of a monitor killed while the worker starts up stops too (no unsupervised worker)', { timeout: 120_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const s = await remoteSession(222, stack);
  makeSmallFiles(s.masterDir, 200, 4, 1000);
  const run = s.start(['--log-level', 'info']);
  // The worker exists but is still connecting to the slave (ssh handshake, remote start).
  const worker = await waitFor(() => workerOf(run.child.pid!), { what: 'the worker process', timeoutMs: 20_000, intervalMs: 10 });
  kill9(run.child.pid!);
  const killedAt = Date.now();
  const started = () => s.output().includes(`"pid":${worker.pid},`) && s.output().includes('worker started');
  t.diagnostic(`killed monitor ${run.child.pid} ${started() ? 'after' : 'before'} its worker ${worker.pid} started syncing`);
  try {
    await waitGone([worker.pid], `worker ${worker.pid} of the killed monitor to stop`, 30_000);
  } catch (err) {
    const lines = s.output().split('\n').filter((l) => l.includes(`"pid":${worker.pid},`) && !l.includes('slave stderr')).slice(-4);
    throw new Error(`${(err as Error).message}: it is still syncing ${((Date.now() - killedAt) / 1000).toFixed(0)} s after its monitor died ` +
      `(a restarted monitor would run a second worker on the same session). Its last log lines:\n${lines.join('\n')}`, { cause: err });
  }
  t.diagnostic(`the orphaned worker stopped ${Date.now() - killedAt} ms after the kill`);
});
