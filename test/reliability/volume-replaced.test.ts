// Reliability 4 - the master volume is replaced. A continuous session mirrors GlusterFS volume V
// to a slave directory. Then V is stopped and deleted and a new volume with the same name is
// created (new bricks, so a new volume id) holding other data - the situation after an operator
// re-created "the same" volume, or a script pointed at the wrong cluster. Mirroring the new
// volume would delete the whole slave copy. Expected: a safety halt `root_type_changed` (or a
// clean refusal that names the volume-id change), and zero deletes on the slave - every entry of
// the slave copy keeps its name, inode and content:
//   1. while the session runs (its mount of V breaks and comes back on the new volume);
//   2. when the session is restarted afterwards (a new worker process that must not just
//      "learn" the new id and resync).
// (Unmounted or emptied master roots are covered by test/integration/safety.test.ts.)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createVolume } from '../support/gluster.js';
import { startGsyncd } from '../support/gsyncd.js';
import { freePort, requireRoot, requireTools, sleep, testCleanup, tmpDir, unmount, waitFor } from '../support/proc.js';
import { converge, getProbe, getStatus, readStateFile, snapshot, stopRun, type StateDoc } from './lib.js';

/** What happened to the slave copy since `before`: deleted or replaced entries, and new ones. */
function slaveChanges(before: ReturnType<typeof snapshot>, slaveDir: string): { deleted: string[]; replaced: string[]; added: string[] } {
  const now = snapshot(slaveDir);
  const deleted: string[] = [];
  const replaced: string[] = [];
  for (const [p, e] of before) {
    const n = now.get(p);
    if (!n) deleted.push(p);
    else if (n.ino !== e.ino || n.type !== e.type || n.size !== e.size || n.mtimeNs !== e.mtimeNs) replaced.push(p);
  }
  const added = [...now.keys()].filter((p) => !before.has(p));
  return { deleted, replaced, added };
}

/** A latched halt for a replaced root, or a worker that refused and says why. */
function refusal(state: StateDoc | null, log: string): string | null {
  if (state?.halt?.reason === 'root_type_changed') return `halt root_type_changed: ${state.halt.detail}`;
  const m = /"msg":"([^"]*(?:volume[- ]id|volume-mark uuid|replaced)[^"]*)"/i.exec(log);
  return m && state?.workerState !== 'active' ? `refused (${state?.workerState}): ${m[1]}` : null;
}

test('master volume deleted and re-created under the same name (new volume id): safety halt, zero deletes on the slave', { timeout: 230_000 }, async (t) => {
  requireRoot();
  requireTools(['gluster', 'glusterfs', 'rsync']);
  const stack = testCleanup(t);
  const v1 = await createVolume({ cleanup: stack });
  const name = v1.name;
  const view = await v1.fuseMount();
  for (let d = 0; d < 5; d++) {
    fs.mkdirSync(path.join(view, `dir${d}`));
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(view, `dir${d}`, `f${i}`), `old volume, dir ${d}, file ${i}\n`);
  }
  fs.writeFileSync(path.join(view, 'shared-name'), 'old content\n');
  const slaveDir = await tmpDir('vr-slave', stack);
  const stateDir = await tmpDir('vr-state', stack);
  const port = await freePort();
  const http = `http://127.0.0.1:${port}`;
  const session = 'volreplaced';
  const stateFile = path.join(stateDir, session, 'state.json');
  const args = ['--state-dir', stateDir, '--session-name', session, '--http-bind', `127.0.0.1:${port}`, '--change-interval', '0.3', '--log-level', 'info', `:${name}`, slaveDir];
  let run = startGsyncd(args);
  stack.defer('stop gsyncd', () => stopRun(run));
  await converge(view, slaveDir, 'the first sync of the old volume', 90_000, { ignoreRoot: ['.gfid'] });
  await waitFor(() => readStateFile(stateFile)?.rootStime, { what: 'a complete pass', timeoutMs: 30_000 });
  const before = snapshot(slaveDir);
  t.diagnostic(`old volume ${name} id ${v1.uuid}: ${before.size} entries on the slave`);

  // Replace the volume: same name, new bricks, new id, other data.
  await v1.destroy();
  const v2 = await createVolume({ cleanup: stack, name });
  assert.notEqual(v2.uuid, v1.uuid);
  const view2 = await v2.fuseMount();
  fs.mkdirSync(path.join(view2, 'other-data'));
  fs.writeFileSync(path.join(view2, 'other-data', 'x'), 'new volume\n');
  fs.writeFileSync(path.join(view2, 'shared-name'), 'NEW content of another volume\n');
  const replacedAt = Date.now();
  t.diagnostic(`new volume ${name} id ${v2.uuid}`);

  // 1. The running session.
  let seen: string | null = null;
  let lastState: StateDoc | null = null;
  while (Date.now() - replacedAt < 45_000 && !seen) {
    lastState = readStateFile(stateFile);
    seen = refusal(lastState, run.output());
    await sleep(500);
  }
  const status = await getStatus(http);
  const ready = await getProbe(http, 'readyz');
  t.diagnostic(`running session after ${((Date.now() - replacedAt) / 1000).toFixed(0)} s: ${seen ?? 'no halt, no refusal'}; state ${lastState?.workerState} halt ${JSON.stringify(lastState?.halt ?? null)} lastError ${JSON.stringify(lastState?.lastError ?? null)}; /status ${status?.verdict} ${JSON.stringify(status?.reasons.map((r) => r.code))}; /readyz ${ready}`);
  const ch1 = slaveChanges(before, slaveDir);
  t.diagnostic(`slave after the running session saw the new volume: ${ch1.deleted.length} deleted, ${ch1.replaced.length} overwritten, ${ch1.added.length} added`);
  const problems: string[] = [];
  const recovery = run.output().split('\n').filter((l) => /recovery failed|volume-mark uuid|differs from the volume id/.test(l)).slice(0, 2);
  t.diagnostic(`running session's log about the new volume: ${recovery.map((l) => l.slice(0, 400)).join('\n  ') || '(nothing)'}`);
  fs.writeFileSync(`/tmp/gsyncd-volume-replaced-${process.pid}.log`, run.output());
  if (ch1.deleted.length || ch1.replaced.length) problems.push(`the running session deleted ${ch1.deleted.length} and overwrote ${ch1.replaced.length} entries of the slave copy`);
  if (!seen) problems.push(`the running session neither halted (root_type_changed) nor refused within 45 s of the volume being replaced: it reports ${lastState?.halt?.reason ?? lastState?.workerState} (state ${lastState?.workerState}, /status ${status?.verdict}) and keeps retrying (log: /tmp/gsyncd-volume-replaced-${process.pid}.log)`);
  else if (status?.verdict !== 'halted') problems.push(`/status says ${status?.verdict}, not halted, after ${seen}`);

  // 2. Restart (a new worker that has never seen the old volume id in memory).
  await stopRun(run);
  for (const line of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const mnt = line.split(' ')[1];
    if (mnt?.includes('/gsyncd-aux-mount-') && line.includes(name)) await unmount(mnt).catch(() => {});
  }
  run = startGsyncd(args);
  const restartedAt = Date.now();
  let seen2: string | null = null;
  let damage = { deleted: [] as string[], replaced: [] as string[], added: [] as string[] };
  // Watch the whole window (a resync deletes at the end of its pass): count the worst damage.
  while (Date.now() - restartedAt < 40_000 && !(seen2 && Date.now() - restartedAt > 10_000)) {
    lastState = readStateFile(stateFile);
    seen2 = lastState && Date.parse(lastState['updatedAt'] as string) >= restartedAt - 1000 ? refusal(lastState, run.output()) : null;
    if (run.child.exitCode !== null && !seen2) seen2 = refusal(lastState, run.output()) ?? `exited ${run.child.exitCode}`;
    const ch = slaveChanges(before, slaveDir);
    if (ch.deleted.length + ch.replaced.length > damage.deleted.length + damage.replaced.length) damage = ch;
    await sleep(500);
  }
  if (damage.deleted.length || damage.replaced.length) {
    fs.writeFileSync(`/tmp/gsyncd-volume-replaced-${process.pid}-restart.log`, run.output());
    problems.push(`after a restart on the replaced volume the slave copy was destroyed: ${damage.deleted.length} of ${before.size} entries deleted ` +
      `(${damage.deleted.slice(0, 5).join(', ')}${damage.deleted.length > 5 ? ', ...' : ''}), ${damage.replaced.length} overwritten (${damage.replaced.slice(0, 5).join(', ')}); ` +
      `state ${lastState?.workerState} halt ${JSON.stringify(lastState?.halt ?? null)} (log: /tmp/gsyncd-volume-replaced-${process.pid}-restart.log)`);
  }
  const ch2 = slaveChanges(before, slaveDir);
  t.diagnostic(`restarted session: ${seen2 ?? 'no halt, no refusal'}; slave: ${ch2.deleted.length} deleted, ${ch2.replaced.length} overwritten, ${ch2.added.length} added`);
  if (!seen2) problems.push(`the restarted session neither halted nor refused on the replaced volume: state ${JSON.stringify(lastState)}`);
  assert.deepEqual(problems, [], 'a replaced master volume is refused, and nothing of the slave copy is deleted or overwritten');
  assert.equal(fs.readFileSync(path.join(slaveDir, 'shared-name'), 'utf8'), 'old content\n', 'the old copy of a name both volumes have is kept');
});
