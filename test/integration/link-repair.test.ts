// Hard-link groups the slave holds as separate copies. A name of a linked file whose other names
// the id map does not know (forgotten as in doubt after a killed worker, or never confirmed) is
// sent as a copy; before, nothing made the group whole again. Now a group found split on the
// slave (its link count below the master's) while a directory holding one of its names is
// visited is joined again, from the names the id map knows.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { compareTrees } from '../support/compare.js';
import { createVolume } from '../support/gluster.js';
import { gsyncd, logLines, startGsyncd } from '../support/gsyncd.js';
import { freePort, requireRoot, testCleanup, tmpDir, waitFor } from '../support/proc.js';

test('hard-link groups split on the slave are joined again when a directory holding one of their names is visited (gluster master)', { timeout: 180_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const vol = await createVolume({ cleanup: stack });
  const view = await vol.fuseMount();
  const slave = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  const once = async (what: string) => {
    const r = await gsyncd(['--once', '--state-dir', stateDir, '--session-name', 'links', `:${vol.name}`, slave], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    return r;
  };
  const ino = (p: string) => fs.statSync(path.join(slave, p)).ino;
  /** The slave's name `p` becomes a copy of its own (as a killed batch could leave it). */
  const splitOnSlave = (p: string) => {
    fs.copyFileSync(path.join(slave, p), path.join(slave, `${p}.copy`));
    fs.renameSync(path.join(slave, `${p}.copy`), path.join(slave, p));
  };
  for (const d of ['a', 'b', 'c']) fs.mkdirSync(path.join(view, d));
  fs.writeFileSync(path.join(view, 'a/f'), 'linked content\n');
  fs.linkSync(path.join(view, 'a/f'), path.join(view, 'b/g'));
  await once('initial sync');
  assert.deepEqual(compareTrees(view, slave), [], 'initial sync');
  assert.equal(ino('a/f'), ino('b/g'));

  // 1. The slave holds b/g as a copy of its own (as a killed batch could leave it); only a changes.
  splitOnSlave('b/g');
  assert.notEqual(ino('a/f'), ino('b/g'));
  fs.writeFileSync(path.join(view, 'a/other'), 'x\n');
  const r1 = await once('a changed');
  assert.match(r1.stdout + r1.stderr, /hard-link groups made whole/);
  assert.equal(ino('a/f'), ino('b/g'), 'b/g is a link of a/f again');
  assert.deepEqual(compareTrees(view, slave), [], 'slave equals master, b\'s times included');

  // 2. The id map is lost (a kill with every name in doubt): a new name c/h of the same file is
  // sent as a copy (nothing tells gsyncd its other names), and the directories holding them never
  // change again. The copy leaves the group open; the run then verifies every directory and
  // joins it (a/f and b/g are found split from c/h, whose name the id map knows by then).
  const sessionDir = path.join(stateDir, 'links');
  for (const f of fs.readdirSync(sessionDir)) if (f.startsWith('ids-')) fs.rmSync(path.join(sessionDir, f));
  fs.linkSync(path.join(view, 'a/f'), path.join(view, 'c/h'));
  const r2 = await once('new name with no known partner');
  const out2 = r2.stdout + r2.stderr;
  assert.match(out2, /"event":"verify.start","reason":"link-groups"/, 'a verification pass ran');
  assert.match(out2, /"event":"verify.done".*"openLinkGroups":0/);
  assert.equal(ino('c/h'), ino('a/f'), 'c/h and a/f are one file again');
  assert.equal(ino('c/h'), ino('b/g'), 'and so is b/g');
  assert.equal(fs.readFileSync(path.join(slave, 'c/h'), 'utf8'), 'linked content\n');
  assert.deepEqual(compareTrees(view, slave), [], 'slave equals master, hard links included');
  assert.deepEqual(fs.readdirSync(sessionDir).filter((f) => f.startsWith('linkdebt-')), [], 'nothing left open');

  // 3. A worker killed after sending such a copy, before its verification: the group is recorded
  // on disk (linkdebt-VOL) and the next run verifies although the master did not change.
  splitOnSlave('b/g');
  const r3idle = await once('no change, nothing recorded');
  assert.doesNotMatch(r3idle.stdout + r3idle.stderr, /verify.start/, 'no verification without a reason');
  assert.notEqual(ino('b/g'), ino('a/f'));
  const volumeId = fs.readdirSync(sessionDir).find((f) => f.startsWith('ids-') && f.endsWith('.journal'))!.slice(4, -'.journal'.length);
  fs.writeFileSync(path.join(sessionDir, `linkdebt-${volumeId}`), 'recorded by a killed worker\n');
  const r3 = await once('the recorded group');
  assert.match(r3.stdout + r3.stderr, /"event":"verify.start","reason":"link-groups"/);
  assert.equal(ino('b/g'), ino('a/f'), 'b/g joined again');
  assert.deepEqual(compareTrees(view, slave), []);
  assert.deepEqual(fs.readdirSync(sessionDir).filter((f) => f.startsWith('linkdebt-')), []);
});

test('a periodic verification pass (--verify-interval) repairs what was changed on the slave behind gsyncd\'s back (gluster master)', { timeout: 180_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const vol = await createVolume({ cleanup: stack });
  const view = await vol.fuseMount();
  const slave = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  for (const d of ['a', 'b']) fs.mkdirSync(path.join(view, d));
  fs.writeFileSync(path.join(view, 'a/f'), 'one\n');
  fs.writeFileSync(path.join(view, 'b/g'), 'two\n');
  const port = await freePort();
  const started = Date.now() / 1000;
  const run = startGsyncd(['--state-dir', stateDir, '--session-name', 'periodic', '--change-interval', '1', '--verify-interval', '4', '--http-bind', `127.0.0.1:${port}`, `:${vol.name}`, slave]);
  stack.defer('gsyncd', async () => { await run.stop(); });
  const verified = () => logLines(run.output()).filter((l) => l['event'] === 'verify.done').length;
  await waitFor(() => compareTrees(view, slave).length === 0, { what: `initial sync (${run.output().slice(-2000)})`, timeoutMs: 60_000, intervalMs: 200 });
  const before = verified();
  // Behind gsyncd's back: a file removed and one rewritten on the slave; the master never changes.
  fs.rmSync(path.join(slave, 'a/f'));
  fs.writeFileSync(path.join(slave, 'b/g'), 'TWO, longer\n');
  await waitFor(() => verified() > before && compareTrees(view, slave).length === 0,
    { what: `a verification pass to restore the slave (${run.output().slice(-2000)})`, timeoutMs: 60_000, intervalMs: 200 });
  assert.equal(fs.readFileSync(path.join(slave, 'b/g'), 'utf8'), 'two\n');
  const done = logLines(run.output()).filter((l) => l['event'] === 'verify.done').at(-1)!;
  assert.ok(Number(done['fixed']) >= 2, `the pass reports what it fixed: ${JSON.stringify(done)}`);
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const last = /^gsyncd_verify_last_completed_timestamp_seconds\{session="periodic"\} (\S+)$/m.exec(metrics);
  assert.ok(last && Number(last[1]) > started, `the verification is on /metrics: ${last?.[0] ?? metrics.split('\n').filter((l) => l.includes('verify')).join(' | ')}`);
  assert.equal(await run.stop(), 0);
});
