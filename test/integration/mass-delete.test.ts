// The mass-deletion guard under a running session (src/core/delete-guard.ts): an `rm -rf` of the
// master's top level, at the speeds people run it, must leave the slave's copy in place and halt
// the session (mass_delete, or root_emptied once the root is seen empty); ordinary work (a job's
// temp files, log rotation, one directory removed, a big rename, a 10 % delete) must not halt.
//  (a) gluster master → directory: `find MNT -mindepth 1 -maxdepth 1 -exec rm -rf {} +`;
//      --resume-halted then mirrors it;
//  (b) directory master → gluster volume slave: one top-level entry at a time, 1 s apart;
//  (c) directory master → ssh slave (real sshd, two network hosts): 10,000 files in 100
//      directories, `rm -rf master/*` at once;
//  (d) directory → directory: the ordinary cases, then 40 % of the tree removed with the root
//      kept non-empty → mass_delete; --resume-halted applies it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createVolume } from '../support/gluster.js';
import { GSYNCD_BIN, gsyncd, logLines, startGsyncd, type RunningGsyncd } from '../support/gsyncd.js';
import { twoHosts } from '../support/netns.js';
import { mustRun, requireRoot, requireTools, sleep, testCleanup, tmpDir, waitFor } from '../support/proc.js';
import { converge, readState, stopWithin } from '../support/safety.js';
import { makeSmallFiles } from '../support/workload.js';

/** Files (non-directories) below root, as relative paths. */
function filesBelow(root: string): Set<string> {
  const out = new Set<string>();
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out.add(r);
    }
  };
  walk('');
  return out;
}

/** How many of `before` the slave still has. */
function kept(before: Set<string>, slave: string): number {
  const now = filesBelow(slave);
  let n = 0;
  for (const f of before) if (now.has(f)) n++;
  return n;
}

/**
 * Watch the slave while `removal` runs on the master and until the session halts: the least
 * the slave held meanwhile, and the halt. Fails when the session does not halt within `ms`.
 */
async function watchRemoval(o: { run: RunningGsyncd; stateDir: string; session: string; slave: string; before: Set<string>; removal: Promise<unknown>; ms?: number }) {
  let least = o.before.size;
  let done = false;
  const removing = o.removal.finally(() => { done = true; });
  const t0 = Date.now();
  try {
    await waitFor(() => {
      least = Math.min(least, kept(o.before, o.slave));
      return done && readState(o.stateDir, o.session)?.workerState === 'halted';
    }, { what: 'the session to halt after the removal', timeoutMs: o.ms ?? 60_000, intervalMs: 100 });
  } catch (err) {
    throw new Error(`${(err as Error).message}; the slave kept ${kept(o.before, o.slave)} of ${o.before.size}; state ${JSON.stringify(readState(o.stateDir, o.session))}\n${o.run.output().slice(-3000)}`);
  }
  await removing;
  // A few more passes: a halted session applies nothing later either.
  await sleep(1500);
  least = Math.min(least, kept(o.before, o.slave));
  return { least, halt: readState(o.stateDir, o.session)?.halt, ms: Date.now() - t0 };
}

function assertHeld(r: Awaited<ReturnType<typeof watchRemoval>>, before: Set<string>, run: RunningGsyncd): void {
  assert.ok(r.halt && ['mass_delete', 'root_emptied'].includes(r.halt.reason), `halt: ${JSON.stringify(r.halt)}`);
  assert.ok(r.least >= Math.ceil(before.size * 0.99), `the slave kept at least ${r.least} of ${before.size} files (< 99 %)`);
  const line = logLines(run.output()).find((l) => String(l['msg']).startsWith('SAFETY HALT'));
  assert.ok(line, 'a SAFETY HALT log line');
  if (r.halt.reason === 'mass_delete') {
    assert.match(String(line['msg']), /\d+ entries would be deleted .* over --max-delete(-percent)? \(limit \d+\); first: \S/, String(line['msg']));
  }
}

test('gluster master: top-level entries removed by find -exec rm -rf → halted, slave keeps ≥ 99 %; --resume-halted mirrors it', { timeout: 240_000 }, async (t) => {
  requireRoot();
  requireTools(['gluster', 'glusterfs', 'rsync', 'find']);
  const stack = testCleanup(t);
  const vol = await createVolume({ cleanup: stack });
  const view = await vol.fuseMount();
  const slaveDir = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  makeSmallFiles(view, 1000, 12, 300);
  for (const f of ['README', 'notes.txt', 'run.sh']) fs.writeFileSync(path.join(view, f), `${f}\n`);
  const session = 'mass-gluster';
  const args = ['--state-dir', stateDir, '--session-name', session, '--log-level', 'info'];
  const run = startGsyncd([...args, '--change-interval', '0.2', `:${vol.name}`, slaveDir]);
  stack.defer('stop gsyncd', () => stopWithin(run, 15_000).catch(() => undefined));
  let failed = true;
  try {
    await converge(view, slaveDir, 'the initial sync');
    await sleep(1500);
    const before = filesBelow(slaveDir);
    const r = await watchRemoval({ run, stateDir, session, slave: slaveDir, before, removal: mustRun('find', [view, '-mindepth', '1', '-maxdepth', '1', '-exec', 'rm', '-rf', '{}', '+']) });
    t.diagnostic(`halted ${r.ms} ms after the removal began (${r.halt?.reason}); the slave kept at least ${r.least} of ${before.size} files`);
    assertHeld(r, before, run);
    assert.equal(await stopWithin(run), 0);
    const resumed = await gsyncd(['--once', '--resume-halted', ...args, `:${vol.name}`, slaveDir], { timeoutMs: 120_000 });
    assert.equal(resumed.code, 0, `--once --resume-halted applies the confirmed removal:\n${(resumed.stdout + resumed.stderr).slice(-3000)}`);
    assert.deepEqual(fs.readdirSync(slaveDir), [], 'the confirmed removal is mirrored');
    assert.equal(readState(stateDir, session)?.halt, undefined);
    failed = false;
  } finally {
    if (failed) t.diagnostic(run.output().slice(-4000));
  }
});

test('directory master → gluster slave: top-level entries removed one at a time, 1 s apart → halted, slave keeps ≥ 99 %', { timeout: 240_000 }, async (t) => {
  requireRoot();
  requireTools(['gluster', 'glusterfs', 'rsync']);
  const stack = testCleanup(t);
  const master = await tmpDir('master', stack);
  const slaveVol = await createVolume({ cleanup: stack });
  const slaveView = await slaveVol.fuseMount();
  const stateDir = await tmpDir('state', stack);
  makeSmallFiles(master, 1000, 20, 300);
  const session = 'mass-slow';
  const run = startGsyncd(['--state-dir', stateDir, '--session-name', session, '--log-level', 'info', '--change-interval', '0.2', master, `:${slaveVol.name}`]);
  stack.defer('stop gsyncd', () => stopWithin(run, 15_000).catch(() => undefined));
  let failed = true;
  try {
    await converge(master, slaveView, 'the initial sync', ['.glusterfs-anonymous-inode']);
    await sleep(1500);
    const before = filesBelow(slaveView);
    const removal = (async () => {
      for (const name of fs.readdirSync(master)) {
        fs.rmSync(path.join(master, name), { recursive: true });
        await sleep(1000);
      }
    })();
    const r = await watchRemoval({ run, stateDir, session, slave: slaveView, before, removal, ms: 90_000 });
    t.diagnostic(`halted (${r.halt?.reason}: ${r.halt?.detail}); the slave kept at least ${r.least} of ${before.size} files`);
    assertHeld(r, before, run);
    failed = false;
  } finally {
    if (failed) t.diagnostic(run.output().slice(-4000));
    await stopWithin(run);
  }
});

test('directory master → ssh slave: rm -rf of 10,000 files in 100 directories at once → halted, slave keeps ≥ 99 %', { timeout: 600_000 }, async (t) => {
  requireRoot();
  requireTools(['rsync', 'rm']);
  const stack = testCleanup(t);
  const hosts = await twoHosts(241, { cleanup: stack });
  const slaveDir = await tmpDir('remote-slave', stack);
  const master = await tmpDir('master', stack);
  const stateDir = await tmpDir('state', stack);
  await hosts.sshd.setAuthorizedKey(`command="${process.execPath} ${GSYNCD_BIN} --dispatch --root ${slaveDir}",restrict ${hosts.sshd.clientKeyPub}`);
  makeSmallFiles(master, 10_000, 100, 100);
  const session = 'mass-ssh';
  const slaveUrl = `ssh://root@${hosts.b.ip}:${hosts.sshd.port}:${slaveDir}`;
  const run = startGsyncd(['--state-dir', stateDir, '--session-name', session, '--log-level', 'info', '--change-interval', '0.2',
    '--ssh-identity', hosts.sshd.clientKeyPath, '--ssh-known-hosts', hosts.sshd.knownHostsFile, master, slaveUrl], {}, hosts.a.execPrefix);
  stack.defer('stop gsyncd', () => stopWithin(run, 15_000).catch(() => undefined));
  let failed = true;
  try {
    await waitFor(() => readState(stateDir, session)?.workerState === 'active' && filesBelow(slaveDir).size === 10_000, { what: 'the initial sync of 10,000 files', timeoutMs: 400_000, intervalMs: 1000 });
    await converge(master, slaveDir, 'the initial sync');
    await sleep(1500);
    const before = filesBelow(slaveDir);
    const r = await watchRemoval({ run, stateDir, session, slave: slaveDir, before, removal: mustRun('bash', ['-c', 'rm -rf -- "$1"/*', 'rm-star', master]) });
    t.diagnostic(`halted ${r.ms} ms after rm -rf began (${r.halt?.reason}); the slave kept at least ${r.least} of ${before.size} files`);
    assertHeld(r, before, run);
    // Stricter than 99 %: while rm -rf runs, removals are never quiet for --delete-delay, so not
    // one delete can be applied (without the guard about one directory of 100 files goes).
    assert.equal(r.least, before.size, 'no file lost at all');
    failed = false;
  } finally {
    if (failed) t.diagnostic(run.output().slice(-4000));
    await stopWithin(run);
  }
});

test('ordinary work does not halt (temp files, log rotation, one directory, a big rename, a 10 % delete); 40 % removed → mass_delete, applied on --resume-halted', { timeout: 240_000 }, async (t) => {
  requireRoot();
  requireTools(['rsync']);
  const stack = testCleanup(t);
  const master = await tmpDir('master', stack);
  const slaveDir = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  makeSmallFiles(master, 1000, 10, 200);
  makeSmallFiles(path.join(master, 'fifty'), 50, 1, 200);
  fs.mkdirSync(path.join(master, 'logs'));
  const session = 'mass-ordinary';
  const args = ['--state-dir', stateDir, '--session-name', session, '--log-level', 'info'];
  const run = startGsyncd([...args, '--change-interval', '0.2', master, slaveDir]);
  stack.defer('stop gsyncd', () => stopWithin(run, 15_000).catch(() => undefined));
  const notHalted = (what: string) => {
    const s = readState(stateDir, session);
    assert.notEqual(s?.workerState, 'halted', `${what}: halted ${JSON.stringify(s?.halt)}`);
  };
  let failed = true;
  try {
    await converge(master, slaveDir, 'the initial sync');

    // A job writes 1,000 temp files and removes 500 of them a second later.
    makeSmallFiles(path.join(master, 'job'), 1000, 4, 100);
    await sleep(1000);
    for (let i = 0; i < 1000; i += 2) fs.rmSync(path.join(master, 'job', `d${i % 4}`, `f${i}`));
    await converge(master, slaveDir, 'the job\'s temp files');
    notHalted('1,000 temp files, 500 removed');

    // Log rotation, five rounds: app.log → app.log.1 … app.log.3, the oldest removed.
    const log = (n: number) => path.join(master, 'logs', n ? `app.log.${n}` : 'app.log');
    for (let round = 0; round < 5; round++) {
      fs.rmSync(log(3), { force: true });
      for (let n = 2; n >= 0; n--) if (fs.existsSync(log(n))) fs.renameSync(log(n), log(n + 1));
      fs.writeFileSync(log(0), `round ${round}\n`.repeat(100));
      await sleep(700);
    }
    await converge(master, slaveDir, 'log rotation');
    notHalted('log rotation');

    // rm -r of one directory of 50 files.
    fs.rmSync(path.join(master, 'fifty'), { recursive: true });
    await converge(master, slaveDir, 'rm -r of a 50-file directory');
    notHalted('rm -r of a 50-file directory');
    const said = logLines(run.output()).map((l) => l['event']);
    assert.ok(said.includes('deletes.held') && said.includes('deletes.applied'), 'the log says that deletes are held, and when they are applied');

    // A big directory renamed: not a delete.
    fs.renameSync(path.join(master, 'd0'), path.join(master, 'd0-renamed'));
    await converge(master, slaveDir, 'the rename of a 100-file directory');
    notHalted('the rename of a 100-file directory');

    // 10 % of the tree removed: below the limits, applied.
    fs.rmSync(path.join(master, 'd1'), { recursive: true });
    fs.rmSync(path.join(master, 'd2'), { recursive: true });
    await converge(master, slaveDir, 'a 10 % delete');
    notHalted('a 10 % delete');
    assert.ok(!fs.existsSync(path.join(slaveDir, 'd1')), 'the 10 % delete is applied');
    assert.ok(!logLines(run.output()).some((l) => String(l['msg']).startsWith('SAFETY HALT')), 'no SAFETY HALT for ordinary work');

    // 40 % of what is left (the root keeps entries: no root_emptied) → mass_delete, nothing applied.
    const removed = ['d3', 'd4', 'd5', 'd6', 'd7'];
    const slaveBefore = filesBelow(slaveDir);
    for (const d of removed) fs.rmSync(path.join(master, d), { recursive: true });
    await waitFor(() => readState(stateDir, session)?.workerState === 'halted', { what: 'a mass_delete halt', timeoutMs: 30_000, intervalMs: 100 });
    assert.equal(readState(stateDir, session)?.halt?.reason, 'mass_delete');
    await sleep(1500);
    assert.equal(kept(slaveBefore, slaveDir), slaveBefore.size, 'nothing of the mass delete was applied');
    // Creates and updates are not what the guard holds: but a halted session applies nothing,
    // so a restart without --resume-halted stays halted.
    assert.equal(await stopWithin(run), 0);
    const again = await gsyncd(['--once', ...args, master, slaveDir]);
    assert.equal(again.code, 1, `--once on a session halted by mass_delete exits 1:\n${again.stdout}${again.stderr}`);
    assert.equal(kept(slaveBefore, slaveDir), slaveBefore.size, 'still nothing applied');
    const resumed = await gsyncd(['--once', '--resume-halted', ...args, master, slaveDir], { timeoutMs: 120_000 });
    assert.equal(resumed.code, 0, `--once --resume-halted:\n${(resumed.stdout + resumed.stderr).slice(-3000)}`);
    await converge(master, slaveDir, 'the confirmed mass delete');
    assert.equal(readState(stateDir, session)?.halt, undefined, 'the halt is cleared');
    failed = false;
  } finally {
    if (failed) t.diagnostic(run.output().slice(-4000));
    if (run.child.exitCode === null && run.child.signalCode === null) await stopWithin(run);
  }
});
