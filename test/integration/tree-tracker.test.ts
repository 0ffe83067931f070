// TreeTracker against a real file system and the real inotify watcher.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fromBytes, joinRel, pathBytes, type BytePath } from '../../src/core/bytepath.js';
import type { MasterEntry } from '../../src/core/entry.js';
import { usFromXtime } from '../../src/core/tracker-xtime.js';
import { TreeTracker, type CrawlProgress, type TreeTrackerOptions } from '../../src/master/tree-tracker.js';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'gsyncd-tracker-'));
after(() => fs.rmSync(base, { recursive: true, force: true }));

let seq = 0;
function mkdirs(): { root: string; state: string } {
  const d = path.join(base, `t${++seq}`);
  fs.mkdirSync(path.join(d, 'root'), { recursive: true });
  return { root: path.join(d, 'root'), state: path.join(d, 'state') };
}

interface Logged { level: string; msg: string; obj: object }
function testLog(into: Logged[] = []) {
  const rec = (level: string) => (obj: object, msg: string) => { into.push({ level, msg, obj }); };
  return { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error'), entries: into };
}

const trackers: TreeTracker[] = [];
after(async () => { for (const t of trackers) await t.stop(); });

async function startTracker(root: string, state: string, extra: Partial<TreeTrackerOptions> = {}): Promise<TreeTracker> {
  const t = new TreeTracker({ root, stateDir: state, verifyIntervalSec: 0, log: testLog(), ...extra });
  trackers.push(t);
  await t.start();
  return t;
}

/** Write a tree: keys are relative text paths; a trailing '/' makes a directory. */
function writeTree(root: string, spec: string[]): void {
  for (const p of spec) {
    const abs = path.join(root, p);
    if (p.endsWith('/')) fs.mkdirSync(abs, { recursive: true });
    else {
      fs.mkdirSync(path.dirname(abs), { recursive: true });
      fs.writeFileSync(abs, `content of ${p}\n`);
    }
  }
}

/** Behave like the engine on a fresh slave: list everything, confirm every directory, flush. */
async function confirmAll(t: TreeTracker): Promise<Map<BytePath, number>> {
  const handed = new Map<BytePath, number>();
  handed.set('', usFromXtime((await t.rootXtime())!));
  const stack: BytePath[] = [''];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    const entries = await t.list(dir);
    assert.ok(entries, `listing ${dir}`);
    for (const e of entries) {
      if (e.type !== 'dir') continue;
      const child = joinRel(dir, e.name);
      assert.ok(e.xtime, `subdirectory ${child} has an xtime`);
      handed.set(child, usFromXtime(e.xtime));
      stack.push(child);
    }
    t.confirmDir(dir, entries);
  }
  await t.flush();
  return handed;
}

function xt(t: TreeTracker, dir: BytePath): number {
  const x = t.xtimeOf(dir);
  assert.ok(x, `xtime of ${JSON.stringify(dir)}`);
  return usFromXtime(x);
}

function snapshot(t: TreeTracker, dirs: BytePath[]): Map<BytePath, number> {
  return new Map(dirs.map((d) => [d, xt(t, d)]));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitUntil(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Assert that exactly `changed` (and their ancestors) moved between two snapshots. */
function assertBumped(before: Map<BytePath, number>, now: Map<BytePath, number>, changed: BytePath[], label: string): void {
  const moved = new Set<BytePath>();
  for (const c of changed) {
    for (let d = c; ; d = d.includes('/') ? d.slice(0, d.lastIndexOf('/')) : '') {
      moved.add(d);
      if (d === '') break;
    }
  }
  for (const [d, v] of before) {
    if (moved.has(d)) assert.ok(now.get(d)! > v, `${label}: ${JSON.stringify(d)} should be newer`);
    else assert.equal(now.get(d), v, `${label}: ${JSON.stringify(d)} should be unchanged`);
  }
}

const treeSpec = ['a/b/c/f1', 'a/b/c/f2', 'a/b/c/f3', 'a/b/g', 'a/s1/h', 'a/s1/k/', 's2/i', 'top'];
const dirsOfSpec: BytePath[] = ['', 'a', 'a/b', 'a/b/c', 'a/s1', 'a/s1/k', 's2'];

describe('TreeTracker', () => {
  it('(a) rootXtime is stable while the tree is idle; waitForChange times out', async () => {
    const { root, state } = mkdirs();
    writeTree(root, treeSpec);
    const progress: CrawlProgress[] = [];
    const t = await startTracker(root, state, { onCrawlProgress: (p) => progress.push(p) });
    assert.equal(t.kind, 'file');
    assert.match(t.volumeId, /^[0-9a-f-]{36}$/);
    const done = progress.find((p) => p.done && p.reason === 'start');
    assert.ok(done, 'start crawl reported');
    assert.equal(done.entries, treeSpec.length + 5 /* directories a, a/b, a/b/c, a/s1, s2 */);
    await confirmAll(t);
    const x0 = await t.rootXtime();
    const snap = snapshot(t, dirsOfSpec);
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      await t.waitForChange(150);
      assert.ok(Date.now() - t0 >= 140, 'waited for the timeout');
      assert.deepEqual(await t.rootXtime(), x0);
    }
    assert.deepEqual(snapshot(t, dirsOfSpec), snap);
  });

  it('(b) a change deep in the tree bumps exactly that directory and its ancestors, quickly', async () => {
    const { root, state } = mkdirs();
    writeTree(root, treeSpec);
    const t = await startTracker(root, state);
    await confirmAll(t);
    const c = path.join(root, 'a/b/c');
    const ops: [string, () => void, BytePath[]][] = [
      ['create', () => fs.writeFileSync(path.join(c, 'new'), 'x'), ['a/b/c']],
      ['modify', () => fs.appendFileSync(path.join(c, 'f1'), 'more'), ['a/b/c']],
      ['chmod', () => fs.chmodSync(path.join(c, 'f2'), 0o600), ['a/b/c']],
      ['chown', () => fs.chownSync(path.join(c, 'f2'), 1234, 1234), ['a/b/c']],
      ['utimes', () => fs.utimesSync(path.join(c, 'f2'), 1_000_000, 1_000_000), ['a/b/c']],
      ['rename in dir', () => fs.renameSync(path.join(c, 'f3'), path.join(c, 'f3r')), ['a/b/c']],
      ['rename across', () => fs.renameSync(path.join(c, 'f3r'), path.join(root, 'a/s1/moved')), ['a/b/c', 'a/s1']],
      ['delete', () => fs.unlinkSync(path.join(c, 'new')), ['a/b/c']],
      ['mkdir', () => fs.mkdirSync(path.join(c, 'nd')), ['a/b/c']],
      ['rmdir', () => fs.rmdirSync(path.join(c, 'nd')), ['a/b/c']],
      ['symlink', () => fs.symlinkSync('f1', path.join(c, 'ln')), ['a/b/c']],
    ];
    for (const [label, op, changed] of ops) {
      if (process.getuid?.() !== 0 && label === 'chown') continue;
      await sleep(150); // let deep checks of the previous step settle
      const before = snapshot(t, dirsOfSpec);
      await t.rootXtime(); // what the engine read: only a newer change wakes the waiter
      const w = t.waitForChange(5000);
      const t0 = Date.now();
      op();
      await w;
      const latency = Date.now() - t0;
      assert.ok(latency < 250, `${label}: waitForChange resolved after ${latency} ms`);
      await sleep(150);
      assertBumped(before, snapshot(t, dirsOfSpec), changed, label);
    }
    // The engine sees the new directory with an xtime newer than what it was handed.
    const entries = (await t.list('a/b/c'))!;
    assert.deepEqual(entries.map((e) => e.name).sort(), ['f1', 'f2', 'ln']);
    assert.equal(entries.find((e) => e.name === 'ln')!.target, 'f1');
  });

  it('(b2) a bump is always newer than the xtime handed out before a listing (concurrent change)', async () => {
    const { root, state } = mkdirs();
    writeTree(root, treeSpec);
    const t = await startTracker(root, state);
    await t.rootXtime();
    const handed = (await t.list('a'))!.find((e) => e.name === 'b')!.xtime!;
    fs.writeFileSync(path.join(root, 'a/b/during'), 'x'); // while the engine "lists" a/b
    await t.list('a/b');
    await waitUntil('bump of a/b', () => xt(t, 'a/b') > usFromXtime(handed));
  });

  it('(b3) a change through one hard link bumps the directories of all its names', async () => {
    const { root, state } = mkdirs();
    writeTree(root, ['small.txt', 'docs/x', 'p1/file', 'p2/', 'other/y']);
    fs.linkSync(path.join(root, 'small.txt'), path.join(root, 'docs/hardlink-to-small'));
    const t = await startTracker(root, state);
    await confirmAll(t);
    const dirs: BytePath[] = ['', 'docs', 'p1', 'p2', 'other'];
    const step = async (label: string, op: () => void, changed: BytePath[]) => {
      await sleep(150);
      const before = snapshot(t, dirs);
      op();
      await waitUntil(label, () => changed.every((d) => xt(t, d) > before.get(d)!));
      await sleep(150);
      assertBumped(before, snapshot(t, dirs), changed, label);
    };
    await step('append through the first name', () => fs.appendFileSync(path.join(root, 'small.txt'), 'more'), ['', 'docs']);
    await step('chmod through the second name', () => fs.chmodSync(path.join(root, 'docs/hardlink-to-small'), 0o600), ['', 'docs']);
    // A link made later: the new name is seen at once, the old one when its directory is listed
    // (the engine lists it, or looks it up to turn the new name into a link on the slave).
    await step('ln', () => fs.linkSync(path.join(root, 'p1/file'), path.join(root, 'p2/link')), ['p2']);
    await t.lookup('p1/file');
    await step('write through the old name', () => fs.appendFileSync(path.join(root, 'p1/file'), 'x'), ['p1', 'p2']);
    // the remaining name's link count (ctime) changed too
    await step('unlink one name', () => fs.unlinkSync(path.join(root, 'p2/link')), ['p2', 'p1']);
    await step('single name again', () => fs.appendFileSync(path.join(root, 'p1/file'), 'y'), ['p1']);
  });

  it('(c) a restart finds what changed while it was down; an unchanged tree restarts idle', async () => {
    const { root, state } = mkdirs();
    writeTree(root, ['d1/same', 'd1b/same2', 'd2/mode', 'd3/gone', 'd4/old', 'd5/keep', 'd6/sub/deep', 'd7/x']);
    const dirs: BytePath[] = ['', 'd1', 'd1b', 'd2', 'd3', 'd4', 'd5', 'd6', 'd6/sub', 'd7'];
    let t = await startTracker(root, state);
    const id = t.volumeId;
    const confirmed = await confirmAll(t);
    await t.stop();

    // Unchanged restart: every directory gets back exactly the xtime the slave was stamped with.
    t = await startTracker(root, state);
    assert.equal(t.volumeId, id);
    for (const d of dirs) assert.equal(xt(t, d), confirmed.get(d), `unchanged ${d}`);
    assert.equal(usFromXtime((await t.rootXtime())!), confirmed.get(''));
    await t.stop();

    // Offline changes.
    const same = path.join(root, 'd1/same');
    const st = fs.statSync(same);
    fs.writeFileSync(same, fs.readFileSync(same, 'utf8').toUpperCase()); // same size
    fs.utimesSync(same, st.atime, new Date(st.mtimeMs + 10_000)); // other mtime
    const same2 = path.join(root, 'd1b/same2');
    const st2 = fs.statSync(same2, { bigint: true });
    fs.writeFileSync(same2, fs.readFileSync(same2, 'utf8').toUpperCase());
    fs.utimesSync(same2, st.atime, new Date(Number(st2.mtimeNs / 1_000_000n))); // mtime restored (ms): ctime still moves
    fs.chmodSync(path.join(root, 'd2/mode'), 0o600);
    fs.unlinkSync(path.join(root, 'd3/gone'));
    fs.renameSync(path.join(root, 'd4/old'), path.join(root, 'd4/new'));
    fs.writeFileSync(path.join(root, 'd6/sub/deep'), 'changed deep down');
    fs.rmSync(path.join(root, 'd7'), { recursive: true });
    fs.mkdirSync(path.join(root, 'd7')); // replaced by an empty directory

    t = await startTracker(root, state);
    for (const d of ['', 'd1', 'd1b', 'd2', 'd3', 'd4', 'd6', 'd6/sub', 'd7']) assert.ok(xt(t, d) > confirmed.get(d)!, `changed ${d}`);
    assert.equal(xt(t, 'd5'), confirmed.get('d5'), 'untouched d5');
    const again = await confirmAll(t);
    await t.stop();
    t = await startTracker(root, state);
    for (const d of dirs) assert.equal(xt(t, d), again.get(d), `reconfirmed ${d}`);
  });

  it('(c2) a bump after a restart is newer than any confirmed xtime, even with the clock behind', async () => {
    const { root, state } = mkdirs();
    writeTree(root, ['a/f']);
    let t = await startTracker(root, state);
    const confirmed = await confirmAll(t);
    await t.stop();
    t = await startTracker(root, state, { wallClockUs: () => 1_000_000 }); // wall clock far in the past
    fs.writeFileSync(path.join(root, 'a/g'), 'x');
    await waitUntil('bump of a', () => xt(t, 'a') > confirmed.get('a')! && xt(t, '') > confirmed.get('')!);
  });

  it('(d) odd names: non-UTF-8 bytes, newlines, spaces, leading dashes', async () => {
    const { root, state } = mkdirs();
    const bad = fromBytes(Buffer.from([0x64, 0xfe])); // "d\xfe"
    const badFile = fromBytes(Buffer.from([0x66, 0xff, 0x6f])); // "f\xffo"
    const abs = (rel: BytePath) => Buffer.concat([Buffer.from(root + '/'), pathBytes(rel)]);
    fs.mkdirSync(abs(bad));
    fs.mkdirSync(abs('new\nline'));
    fs.mkdirSync(abs(' sp ace '));
    fs.mkdirSync(abs('-dash'));
    fs.mkdirSync(abs('plain'));
    fs.writeFileSync(abs(`${bad}/${badFile}`), 'x');
    fs.writeFileSync(abs('new\nline/-f'), 'x');
    const t = await startTracker(root, state);
    await confirmAll(t);
    assert.deepEqual((await t.list(bad))!.map((e) => e.name), [badFile]);
    assert.deepEqual((await t.list(''))!.map((e) => e.name).sort(), [' sp ace ', '-dash', 'new\nline', 'plain', bad].sort());
    const dirs: BytePath[] = ['', bad, 'new\nline', ' sp ace ', '-dash', 'plain'];
    const steps: [string, () => void, BytePath[]][] = [
      ['file in a non-UTF-8 directory', () => fs.writeFileSync(abs(`${bad}/other`), 'y'), [bad]],
      ['modify a non-UTF-8 file', () => fs.appendFileSync(abs(`${bad}/${badFile}`), 'z'), [bad]],
      ['non-UTF-8 file created', () => fs.writeFileSync(abs(`-dash/${badFile}`), 'y'), ['-dash']],
      ['file in newline dir', () => fs.appendFileSync(abs('new\nline/-f'), 'z'), ['new\nline']],
      ['file in spaced dir', () => fs.writeFileSync(abs(' sp ace /--x y'), 'z'), [' sp ace ']],
      ['non-UTF-8 subdirectory', () => fs.mkdirSync(abs(`plain/${bad}`)), ['plain']],
    ];
    for (const [label, op, changed] of steps) {
      await sleep(150);
      const before = snapshot(t, dirs);
      await t.rootXtime();
      const w = t.waitForChange(5000);
      op();
      await w;
      await sleep(150);
      assertBumped(before, snapshot(t, dirs), changed, label);
    }
    // A change inside the new non-UTF-8 subdirectory reaches its exact byte path.
    await sleep(150);
    const sub = `plain/${bad}`;
    const x = xt(t, sub);
    fs.writeFileSync(abs(`${sub}/${badFile}`), 'deep');
    await waitUntil('bump of the non-UTF-8 subdirectory', () => xt(t, sub) > x);
    assert.deepEqual((await t.list(sub))!.map((e) => e.name), [badFile]);
  });

  it('(e) a watcher error triggers a full verification crawl that finds event-less changes', async () => {
    const { root, state } = mkdirs();
    writeTree(root, treeSpec);
    const progress: CrawlProgress[] = [];
    const t = await startTracker(root, state, { watch: false, onCrawlProgress: (p) => progress.push(p) });
    await confirmAll(t);
    const before = snapshot(t, dirsOfSpec);
    fs.writeFileSync(path.join(root, 'a/b/silent'), 'no event for this');
    await t.waitForChange(150);
    assert.deepEqual(snapshot(t, dirsOfSpec), before, 'nothing noticed without a watcher');
    await t.onWatcherError(new Error('simulated inotify queue overflow'));
    assert.ok(progress.some((p) => p.reason === 'watcher-error' && p.done && p.scope === ''), 'a full crawl ran');
    assertBumped(before, snapshot(t, dirsOfSpec), ['a/b'], 'after the crawl');
  });

  it('(e2) after a watcher error the watcher is renewed and keeps reporting', async () => {
    const { root, state } = mkdirs();
    writeTree(root, treeSpec);
    const log = testLog();
    const t = new TreeTracker({ root, stateDir: state, verifyIntervalSec: 0, log });
    trackers.push(t);
    await t.start();
    await confirmAll(t);
    await t.onWatcherError(new Error('simulated'));
    assert.ok(log.entries.some((e) => e.level === 'warn' && /watcher failed/.test(e.msg)));
    assert.equal(t.status().watching, true);
    const before = snapshot(t, dirsOfSpec);
    fs.writeFileSync(path.join(root, 's2/after'), 'x');
    await waitUntil('bump of s2', () => xt(t, 's2') > before.get('s2')!);
    assertBumped(before, snapshot(t, dirsOfSpec), ['s2'], 'after renewal');
  });

  it('(f) a tree moved in from outside and a renamed directory are fully watched (parcel gaps)', async () => {
    const { root, state } = mkdirs();
    writeTree(root, ['r1/sub/x/f', 'plain/f']);
    const outside = path.join(path.dirname(root), 'outside');
    writeTree(outside, ['t/u/v/f']);
    const t = await startTracker(root, state);
    await confirmAll(t);
    fs.renameSync(path.join(outside, 't'), path.join(root, 't'));
    fs.renameSync(path.join(root, 'r1'), path.join(root, 'r2'));
    await waitUntil('renewed subscription', () => t.status().resubscriptions >= 1);
    await sleep(200);
    await confirmAll(t);
    const dirs: BytePath[] = ['', 't', 't/u', 't/u/v', 'r2', 'r2/sub', 'r2/sub/x', 'plain'];
    for (const [label, file, changed] of [['moved-in subtree', 't/u/v/g', 't/u/v'], ['renamed subtree', 'r2/sub/x/g', 'r2/sub/x']] as const) {
      const before = snapshot(t, dirs);
      fs.writeFileSync(path.join(root, file), 'x');
      await waitUntil(`bump of ${changed}`, () => xt(t, changed) > before.get(changed)!, 2000);
      await sleep(100);
      assertBumped(before, snapshot(t, dirs), [changed], label);
    }
  });

  it('(f2) mkdir -p and an immediate write inside are never lost', async () => {
    const { root, state } = mkdirs();
    writeTree(root, ['base/']);
    const t = await startTracker(root, state);
    await confirmAll(t);
    for (let i = 0; i < 20; i++) {
      fs.mkdirSync(path.join(root, `base/p${i}/q/r`), { recursive: true });
      fs.writeFileSync(path.join(root, `base/p${i}/q/r/f`), 'x');
    }
    await sleep(400);
    await confirmAll(t); // the engine caught up, maybe before some watches existed
    await waitUntil('coverage settled', () => true);
    await sleep(1500); // throttled renewal + verification
    const snap = new Map<BytePath, number>();
    for (let i = 0; i < 20; i++) snap.set(`base/p${i}/q/r`, xt(t, `base/p${i}/q/r`));
    await confirmAll(t);
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(root, `base/p${i}/q/r/g`), 'y');
    for (let i = 0; i < 20; i++) {
      const d = `base/p${i}/q/r`;
      await waitUntil(`bump of ${d}`, () => xt(t, d) > snap.get(d)!, 3000);
    }
  });

  it('(f3) a subtree moved out of the root: its stale watches are dropped', async () => {
    const { root, state } = mkdirs();
    writeTree(root, ['out/a/b/f', 'stay/f']);
    const outside = path.join(path.dirname(root), 'elsewhere');
    fs.mkdirSync(outside);
    const t = await startTracker(root, state);
    await confirmAll(t);
    fs.renameSync(path.join(root, 'out'), path.join(outside, 'out'));
    await sleep(200);
    // Parcel still watches out/a and out/a/b under their old paths; it reports those phantom
    // events along with the next real one.
    fs.writeFileSync(path.join(outside, 'out/a/b/g1'), 'x');
    fs.writeFileSync(path.join(root, 'stay/g'), 'x');
    await waitUntil('renewed subscription', () => t.status().resubscriptions >= 1, 5000);
    await sleep(200);
    const phantom = t.xtimeOf('out/a/b');
    const stay = xt(t, 'stay');
    fs.writeFileSync(path.join(outside, 'out/a/b/g2'), 'x');
    fs.writeFileSync(path.join(root, 'stay/h'), 'x');
    await waitUntil('real change seen', () => xt(t, 'stay') > stay);
    await sleep(200);
    assert.deepEqual(t.xtimeOf('out/a/b'), phantom, 'no more events from the moved-out subtree');
    await t.verify(); // a full crawl forgets directories that are gone
    assert.equal(t.xtimeOf('out/a/b'), null);
  });

  it('(g) safetyCheck: missing root, replaced root, resetRootIdentity', async () => {
    const { root, state } = mkdirs();
    writeTree(root, ['f']);
    const t = await startTracker(root, state);
    assert.equal(await t.safetyCheck(), null);
    const moved = root + '.moved';
    fs.renameSync(root, moved);
    assert.equal(await t.safetyCheck(), 'mount_missing');
    fs.writeFileSync(root, 'a file now');
    assert.equal(await t.safetyCheck(), 'mount_missing');
    fs.unlinkSync(root);
    fs.mkdirSync(root);
    assert.equal(await t.safetyCheck(), 'root_type_changed');
    await t.resetRootIdentity();
    assert.equal(await t.safetyCheck(), null);
    await t.stop();
    // The accepted identity is persisted.
    const t2 = await startTracker(root, state);
    assert.equal(await t2.safetyCheck(), null);
  });

  it('(h) a state directory inside the root is neither listed nor a source of changes', async () => {
    const { root } = mkdirs();
    writeTree(root, ['f', 'd/g']);
    const state = path.join(root, '.gsyncd-state');
    const t = await startTracker(root, state);
    assert.deepEqual((await t.list(''))!.map((e) => e.name), ['d', 'f']);
    await confirmAll(t);
    const x = xt(t, '');
    for (let i = 0; i < 3; i++) {
      await confirmAll(t); // writes the journal
      await t.waitForChange(120);
    }
    assert.equal(xt(t, ''), x);
  });

  it('(h2) a burst of events large enough to overflow inotify is followed by a full crawl', async () => {
    const { root, state } = mkdirs();
    writeTree(root, treeSpec);
    const progress: CrawlProgress[] = [];
    const log = testLog();
    const t = new TreeTracker({ root, stateDir: state, verifyIntervalSec: 0, log, burstVerifyEvents: 20, onCrawlProgress: (p) => progress.push(p) });
    trackers.push(t);
    await t.start();
    for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(root, `s2/burst${i}`), 'x');
    await waitUntil('burst crawl', () => progress.some((p) => p.reason === 'event-burst' && p.done), 5000);
    assert.ok(log.entries.some((e) => /burst of file events/.test(e.msg)));
  });

  it('(i) the periodic verification crawl catches a change the watcher missed', async () => {
    const { root, state } = mkdirs();
    writeTree(root, treeSpec);
    const t = await startTracker(root, state, { watch: false, verifyIntervalSec: 0.3 });
    await confirmAll(t);
    const before = xt(t, 'a/s1');
    fs.writeFileSync(path.join(root, 'a/s1/late'), 'x');
    await waitUntil('periodic crawl bump', () => xt(t, 'a/s1') > before, 3000);
  });
});
