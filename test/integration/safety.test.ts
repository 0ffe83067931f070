// Safety halts under a running continuous session: what looks like "the master lost everything"
// must never be mirrored as deletes on the slave.
//  (a) gluster master: gsyncd's own aux mount is lazily unmounted behind its back while files are
//      deleted on the master: the worker reports the lost mount, deletes nothing while the mount
//      is missing, remounts by itself and then converges (the deletes are real and propagate);
//  (b) directory master emptied (rm -rf master/*): halted (root_emptied), latched across restarts,
//      slave untouched; --resume-halted clears it and the emptying is mirrored;
//  (c) directory master root replaced by a new empty directory: halted, slave untouched.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createVolume } from '../support/gluster.js';
import { gsyncd, logLines, startGsyncd, type RunningGsyncd } from '../support/gsyncd.js';
import { mustRun, requireRoot, requireTools, sleep, testCleanup, tmpDir, waitFor } from '../support/proc.js';
import { makeMixedTree, makeSmallFiles } from '../support/workload.js';
import { childrenOf, converge, lost, readState, snapshot, stopWithin, type SessionState } from '../support/safety.js';

async function stopAndLog(run: RunningGsyncd, log: (m: string) => void, failed: boolean): Promise<number | null> {
  try {
    return await stopWithin(run);
  } finally {
    if (failed) log(run.output().slice(-6000));
  }
}

/** fuse.glusterfs mounts of gsyncd (aux mount dirs) whose source is `volume`. */
function auxMountsOf(volume: string): string[] {
  return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' '))
    .filter(([src, mnt, type]) => type === 'fuse.glusterfs' && mnt?.includes('/gsyncd-aux-mount-') && new RegExp(`^[^:]+:/?${volume}$`).test(src ?? ''))
    .map(([, mnt]) => mnt!);
}

test('gluster master: aux mount unmounted behind the worker while files are deleted → nothing deleted until it is back, then converges', { timeout: 150_000 }, async (t) => {
  requireRoot();
  requireTools(['gluster', 'glusterfs', 'rsync', 'umount']);
  const stack = testCleanup(t);
  const vol = await createVolume({ cleanup: stack });
  const view = await vol.fuseMount();
  const slaveDir = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  makeSmallFiles(view, 60, 6, 2000);
  fs.writeFileSync(path.join(view, 'top.txt'), 'top\n');
  const session = 'safety-gluster';
  const run = startGsyncd(['--state-dir', stateDir, '--session-name', session, '--change-interval', '0.2', '--log-level', 'info', `:${vol.name}`, slaveDir]);
  stack.defer('stop gsyncd', () => stopWithin(run, 15_000).catch(() => undefined));
  let failed = true;
  try {
    await converge(view, slaveDir, 'the initial sync');
    const before = snapshot(slaveDir);
    // The worker's aux mounts: the one it lists and reads xtimes through (lost below), the read
    // mount rsync reads data through, and the fresh-listing mount of the initial sync.
    const mounts = auxMountsOf(vol.name);
    const aux = String(logLines(run.output(), 'gluster master mounted').at(-1)?.['mount']);
    assert.ok(mounts.includes(aux) && mounts.length <= 3, `the master mount ${aux} among gsyncd's aux mounts of ${vol.name}: ${mounts.join(', ')}`);

    const logBefore = run.output().length;
    const t0 = Date.now();
    await mustRun('umount', ['-l', aux]);
    // Deletes on the master while gsyncd's mount is missing: a file, a whole directory, and more.
    fs.rmSync(path.join(view, 'top.txt'));
    fs.rmSync(path.join(view, 'd1'), { recursive: true });
    for (const f of fs.readdirSync(path.join(view, 'd2')).slice(0, 5)) fs.rmSync(path.join(view, 'd2', f));

    // Until the worker says its mount is back, the slave must keep everything.
    const states = new Set<string>();
    let checks = 0;
    // The slave is looked at first, then whether a new aux mount exists: what was lost before the
    // new mount appeared was deleted while the master was unreadable. (The log is not used for
    // this: it reaches us later than the slave changes.)
    let violation: string[] = [];
    await waitFor(() => {
      const s = readState(stateDir, session);
      if (s) states.add(`${s.workerState}${s.halt ? `/${s.halt.reason}` : ''}`);
      const missing = lost(before, snapshot(slaveDir));
      const back = auxMountsOf(vol.name).some((m) => !mounts.includes(m));
      checks++;
      if (missing.length && !back) violation = missing;
      return back || violation.length > 0;
    }, { what: 'the worker to mount the master again', timeoutMs: 60_000, intervalMs: 20 });
    assert.deepEqual(violation.slice(0, 10), [], `the slave lost entries while the master mount was missing (${Date.now() - t0} ms after umount -l)`);
    await waitFor(() => logLines(run.output().slice(logBefore), 'gluster master remounted').length > 0, { what: 'the log line "gluster master remounted"', timeoutMs: 10_000 });
    const window = Date.now() - t0;
    const out = run.output().slice(logBefore);
    t.diagnostic(`mount back after ${window} ms; slave checked ${checks} times meanwhile; states seen: ${[...states].join(', ')}`);
    const problem = logLines(out).find((l) => /master mount is gone|master unavailable/.test(String(l['msg'])));
    assert.ok(problem, `the worker logs the lost mount:\n${out.slice(0, 4000)}`);
    t.diagnostic(`logged: ${JSON.stringify(problem)}`);
    assert.ok(logLines(out).some((l) => l['event'] === 'safety.halt' && l['reason'] === 'mount_missing'), 'a safety.halt event with reason mount_missing');
    assert.ok(!logLines(out).some((l) => String(l['msg']).includes('SAFETY HALT')), 'a missing mount is not a latched halt');

    // The master's deletes were real: after the remount they reach the slave, and nothing else goes.
    await converge(view, slaveDir, 'convergence after the remount');
    // The state file follows the pass that mirrored the deletes.
    let s = readState(stateDir, session);
    await waitFor(() => (s = readState(stateDir, session))?.workerState === 'active', { what: 'state active again', timeoutMs: 15_000, intervalMs: 50 })
      .catch(() => assert.fail(`state after recovery: ${JSON.stringify(s)}`));
    assert.equal(s?.halt, undefined, 'the transient halt is cleared');
    const after = auxMountsOf(vol.name);
    assert.ok(!after.includes(aux) && after.length === mounts.length, `the lost mount replaced, not kept or leaked: before ${mounts.join(', ')}; after ${after.join(', ')}`);
    const clientsOfLost = () => fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
      try { return fs.readFileSync(`/proc/${d}/cmdline`).toString().split('\0').includes(aux); } catch { return false; }
    });
    await waitFor(() => clientsOfLost().length === 0, { what: `the glusterfs client of the lost mount ${aux} to end`, timeoutMs: 10_000 })
      .catch(() => assert.fail(`the glusterfs client of the lost aux mount still runs: pids ${clientsOfLost().join(' ')}`));
    t.diagnostic(`converged ${Date.now() - t0} ms after the umount`);
    failed = false;
  } finally {
    const code = await stopAndLog(run, (m) => t.diagnostic(m), failed);
    if (!failed) assert.equal(code, 0, 'gsyncd exits 0 on SIGTERM');
  }
  assert.deepEqual(auxMountsOf(vol.name), [], 'gsyncd unmounted its aux mount on exit');
});

test('directory master emptied under a running session → halted (root_emptied), latched, slave untouched; --resume-halted mirrors it', { timeout: 120_000 }, async (t) => {
  requireRoot();
  requireTools(['rsync', 'rm']);
  const stack = testCleanup(t);
  const base = await tmpDir('master', stack);
  const master = path.join(base, 'm');
  fs.mkdirSync(master);
  const slaveDir = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  makeMixedTree(master, { bigFileBytes: 1 << 20 });
  makeSmallFiles(path.join(master, 'bulk'), 100, 5, 1000);
  const session = 'safety-empty';
  const args = ['--state-dir', stateDir, '--session-name', session, '--log-level', 'info'];
  const run = startGsyncd([...args, '--change-interval', '0.2', master, slaveDir]);
  stack.defer('stop gsyncd', () => stopWithin(run, 15_000).catch(() => undefined));
  let failed = true;
  try {
    await converge(master, slaveDir, 'the initial sync');
    await sleep(1500); // let the session go idle: a pass racing the rm is the next test's subject
    const before = snapshot(slaveDir);
    const t0 = Date.now();
    await mustRun('bash', ['-c', 'rm -rf -- "$1"/*', 'rm-star', master]);
    assert.deepEqual(fs.readdirSync(master), [], 'the master is empty');
    await waitFor(() => readState(stateDir, session)?.workerState === 'halted', { what: 'state halted', timeoutMs: 20_000, intervalMs: 50 });
    t.diagnostic(`halted ${Date.now() - t0} ms after rm -rf`);
    const st = readState(stateDir, session)!;
    assert.equal(st.halt?.reason, 'root_emptied', `halt reason: ${JSON.stringify(st.halt)}`);
    assert.ok(run.output().includes('SAFETY HALT'), 'a SAFETY HALT log line');
    await sleep(2000); // 10 change intervals
    assert.equal(run.child.exitCode, null, 'a continuous worker stays up while halted');
    assert.equal(readState(stateDir, session)?.workerState, 'halted');
    assert.deepEqual(lost(before, snapshot(slaveDir)).slice(0, 10), [], 'the slave is untouched while halted');
    const code = await stopWithin(run);
    t.diagnostic(`halted session stopped by SIGTERM: exit ${code}`);

    // Restart without --resume-halted: still halted, still nothing deleted.
    const again = startGsyncd([...args, '--change-interval', '0.2', master, slaveDir]);
    stack.defer('stop gsyncd (2)', () => stopWithin(again, 15_000).catch(() => undefined));
    await waitFor(() => again.output().includes('session is halted'), { what: 'the restarted worker to report the latched halt', timeoutMs: 20_000 });
    await sleep(1500);
    assert.equal(again.child.exitCode, null, 'the restarted continuous worker stays up, halted');
    assert.equal(readState(stateDir, session)?.workerState, 'halted');
    assert.equal(readState(stateDir, session)?.halt?.reason, 'root_emptied');
    assert.deepEqual(lost(before, snapshot(slaveDir)).slice(0, 10), [], 'the slave is untouched after a restart without --resume-halted');
    await stopWithin(again);
    const once = await gsyncd(['--once', ...args, master, slaveDir]);
    assert.equal(once.code, 1, `--once on a halted session exits 1:\n${once.stdout.slice(-2000)}${once.stderr.slice(-2000)}`);
    assert.deepEqual(lost(before, snapshot(slaveDir)).slice(0, 10), [], 'the slave is untouched after --once without --resume-halted');

    // The operator confirms: --resume-halted clears the latch and the emptying is mirrored.
    const resumed = await gsyncd(['--once', '--resume-halted', ...args, master, slaveDir], { timeoutMs: 60_000 });
    const after = readState(stateDir, session);
    t.diagnostic(`--once --resume-halted: exit ${resumed.code}, state ${JSON.stringify({ workerState: after?.workerState, halt: after?.halt })}`);
    assert.equal(resumed.code, 0, `--once --resume-halted proceeds and completes:\n${(resumed.stdout + resumed.stderr).slice(-3000)}`);
    assert.equal(after?.halt, undefined, 'the halt is cleared');
    assert.deepEqual(fs.readdirSync(slaveDir), [], 'the confirmed emptying is mirrored on the slave');
    failed = false;
  } finally {
    if (failed) t.diagnostic(run.output().slice(-4000));
    if (run.child.exitCode === null && run.child.signalCode === null) await stopWithin(run);
  }
});

test('directory master emptied while a pass is in flight → halted soon, slave keeps what it had, SIGTERM honoured', { timeout: 120_000 }, async (t) => {
  requireRoot();
  requireTools(['rsync', 'rm']);
  const stack = testCleanup(t);
  const base = await tmpDir('master', stack);
  const master = path.join(base, 'm');
  fs.mkdirSync(master);
  const slaveDir = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  const work = await tmpDir('work', stack);
  makeMixedTree(master, { bigFileBytes: 1 << 20 });
  makeSmallFiles(path.join(master, 'bulk'), 100, 5, 1000);
  // rsync as gsyncd runs it, started 1.5 s late once the flag file exists: a pass then sits between
  // its listings and its data transfer for long enough to empty the master meanwhile (as a big
  // rm -rf racing a pass does).
  const flag = path.join(work, 'slow');
  const wrapper = path.join(work, 'rsync-slow.sh');
  fs.writeFileSync(wrapper, `#!/bin/bash\n[ -e ${flag} ] && sleep 1.5\nexec rsync "$@"\n`);
  const session = 'safety-race';
  const run = startGsyncd(['--state-dir', stateDir, '--session-name', session, '--change-interval', '0.2', '--log-level', 'info', '--rsync-command', `bash ${wrapper}`, master, slaveDir]);
  stack.defer('stop gsyncd', () => stopWithin(run, 15_000).catch(() => undefined));
  let failed = true;
  try {
    await converge(master, slaveDir, 'the initial sync');
    await sleep(1500);
    const before = snapshot(slaveDir);
    fs.writeFileSync(flag, '');
    const logAt = run.output().length;
    // A change that makes the next pass send data: the pass lists, then waits in the slow rsync.
    fs.writeFileSync(path.join(master, 'docs', 'trigger.txt'), 'trigger\n');
    fs.appendFileSync(path.join(master, 'bulk', 'd1', 'f1'), 'more');
    await sleep(700);
    const t0 = Date.now();
    await mustRun('bash', ['-c', 'rm -rf -- "$1"/*', 'rm-star', master]);
    let halted = false;
    try {
      await waitFor(() => readState(stateDir, session)?.workerState === 'halted', { what: 'state halted', timeoutMs: 30_000, intervalMs: 50 });
      halted = true;
    } finally {
      const out = run.output().slice(logAt);
      const retries = logLines(out, 'rsync failed');
      t.diagnostic(`${halted ? `halted ${Date.now() - t0} ms` : 'not halted 30 s'} after rm -rf; rsync failures logged meanwhile: ${retries.length} ` +
        `(exit codes ${[...new Set(retries.map((l) => l['exitCode']))].join(',')}, attempts up to ${Math.max(0, ...retries.map((l) => Number(l['attempt'] ?? 0)))}); ` +
        `first: ${String(retries[0]?.['stderr'] ?? '-').split('\n')[0]}`);
      t.diagnostic(`state: ${JSON.stringify(readState(stateDir, session))}`);
    }
    assert.equal(readState(stateDir, session)?.halt?.reason, 'root_emptied');
    assert.deepEqual(lost(before, snapshot(slaveDir)).slice(0, 10), [], 'the slave keeps everything it had before the emptying');
    failed = false;
  } finally {
    const t1 = Date.now();
    try {
      const code = await stopAndLog(run, (m) => t.diagnostic(m), failed);
      t.diagnostic(`stopped ${Date.now() - t1} ms after SIGTERM: exit ${code}`);
    } catch (err) {
      if (!failed) throw err;
      t.diagnostic((err as Error).message.split('\n')[0]!);
    }
  }
});

test('directory master root replaced by a new empty directory → halted, slave untouched', { timeout: 90_000 }, async (t) => {
  requireRoot();
  requireTools(['rsync']);
  const stack = testCleanup(t);
  const base = await tmpDir('master', stack);
  const master = path.join(base, 'm');
  fs.mkdirSync(master);
  const slaveDir = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  makeMixedTree(master, { bigFileBytes: 1 << 20 });
  const session = 'safety-replace';
  const run = startGsyncd(['--state-dir', stateDir, '--session-name', session, '--change-interval', '0.2', '--log-level', 'info', master, slaveDir]);
  stack.defer('stop gsyncd', () => stopWithin(run, 15_000).catch(() => undefined));
  let failed = true;
  try {
    await converge(master, slaveDir, 'the initial sync');
    const before = snapshot(slaveDir);
    const t0 = Date.now();
    fs.renameSync(master, path.join(base, 'm.old'));
    fs.mkdirSync(master);
    await waitFor(() => readState(stateDir, session)?.workerState === 'halted', { what: 'state halted', timeoutMs: 20_000, intervalMs: 50 });
    const st = readState(stateDir, session)!;
    t.diagnostic(`halted ${Date.now() - t0} ms after the replacement: ${JSON.stringify(st.halt)}`);
    assert.ok(st.halt && ['root_type_changed', 'root_emptied'].includes(st.halt.reason), `halt reason: ${JSON.stringify(st.halt)}`);
    assert.ok(run.output().includes('SAFETY HALT'), 'a SAFETY HALT log line');
    await sleep(2000);
    assert.equal(run.child.exitCode, null, 'a continuous worker stays up while halted');
    assert.equal(readState(stateDir, session)?.workerState, 'halted');
    assert.deepEqual(lost(before, snapshot(slaveDir)).slice(0, 10), [], 'the slave is untouched');
    // Files written into the new root meanwhile are not mirrored either (nothing happens while halted).
    fs.writeFileSync(path.join(master, 'new.txt'), 'new\n');
    await sleep(1000);
    assert.ok(!fs.existsSync(path.join(slaveDir, 'new.txt')), 'nothing is mirrored from the replaced root while halted');
    assert.deepEqual(lost(before, snapshot(slaveDir)).slice(0, 10), [], 'the slave is untouched');
    failed = false;
  } finally {
    const code = await stopAndLog(run, (m) => t.diagnostic(m), failed);
    t.diagnostic(`stopped: exit ${code}`);
  }
});

test('--volume-id that is not the master\'s → refused with a halt naming both ids, slave untouched', { timeout: 60_000 }, async (t) => {
  requireRoot();
  requireTools(['rsync']);
  const stack = testCleanup(t);
  const master = await tmpDir('master', stack);
  const slaveDir = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  makeSmallFiles(master, 20, 2, 100);
  const common = ['--once', '--state-dir', stateDir, '--session-name', 'volid'];
  const first = await gsyncd([...common, master, slaveDir]);
  assert.equal(first.code, 0, first.stderr);
  const learned = readState(stateDir, 'volid') as SessionState & { masterVolumeId?: string };
  assert.match(learned.masterVolumeId ?? '', /^[0-9a-f-]{36}$/, 'the master id is kept in the state file');
  const before = snapshot(slaveDir);
  fs.rmSync(path.join(master, 'd0'), { recursive: true });
  const wrong = '00000000-1111-4222-8333-444444444444';
  const refused = await gsyncd([...common, '--volume-id', wrong, master, slaveDir]);
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  const st = readState(stateDir, 'volid');
  assert.equal(st?.halt?.reason, 'root_type_changed');
  assert.ok(st?.halt?.detail.includes(wrong) && st.halt.detail.includes(learned.masterVolumeId!), st?.halt?.detail);
  assert.deepEqual(lost(before, snapshot(slaveDir)), [], 'nothing deleted on the slave');
  // The right id (and the operator's --resume-halted, the halt being latched) syncs again.
  const ok = await gsyncd([...common, '--volume-id', learned.masterVolumeId!, '--resume-halted', master, slaveDir]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.ok(!fs.existsSync(path.join(slaveDir, 'd0')), 'the delete is mirrored once the id matches');
});

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

test('one worker per session: a second run is refused while one runs; a monitor killed -9 during worker start-up leaves no worker behind', { timeout: 90_000 }, async (t) => {
  requireRoot();
  requireTools(['rsync']);
  const stack = testCleanup(t);
  const master = await tmpDir('master', stack);
  const slaveDir = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  makeSmallFiles(master, 50, 2, 100);
  const common = ['--state-dir', stateDir, '--session-name', 'lock'];

  // Killed as soon as its worker exists (still opening the slave and the master).
  const early = startGsyncd([...common, '--change-interval', '0.2', master, slaveDir]);
  stack.defer('stop gsyncd', () => early.kill9().catch(() => undefined));
  let worker = 0;
  await waitFor(() => { worker = childrenOf(early.child.pid!)[0] ?? 0; return worker > 0; }, { what: 'the worker process', timeoutMs: 10_000, intervalMs: 5 });
  process.kill(early.child.pid!, 'SIGKILL');
  await waitFor(() => !alive(worker), { what: `orphaned worker ${worker} to exit`, timeoutMs: 15_000, intervalMs: 50 });

  const run = startGsyncd([...common, '--change-interval', '0.2', master, slaveDir]);
  stack.defer('stop gsyncd', () => stopWithin(run, 15_000).catch(() => undefined));
  await converge(master, slaveDir, 'the sync');
  const second = await gsyncd(['--once', ...common, master, slaveDir]);
  assert.equal(second.code, 1, second.stdout + second.stderr);
  assert.match(second.stdout + second.stderr, /another worker \(pid \d+\) is running this session/);
  // The refused run changed nothing: the running session still syncs.
  fs.writeFileSync(path.join(master, 'after.txt'), 'x\n');
  await converge(master, slaveDir, 'a change after the refused run');
  assert.equal(await stopWithin(run, 15_000), 0);
  // With the session stopped, the lock is free again.
  const third = await gsyncd(['--once', ...common, master, slaveDir]);
  assert.equal(third.code, 0, third.stdout + third.stderr);
});
