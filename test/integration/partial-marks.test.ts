// A directory that fails keeps its old mark; its ancestors may still claim what is true of their
// whole subtree (capped by that old mark). With failures moving around, as under churn, the root
// mark and synced-up-to must still advance, and never past what a failed directory had.
// Failures are real: a slave directory made immutable (chattr +i) refuses new entries.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { getAttributeSync, listAttributesSync } from '@napi-rs/xattr';
import { compareTrees } from '../support/compare.js';
import { gsyncd } from '../support/gsyncd.js';
import { requireRoot, testCleanup, tmpDir } from '../support/proc.js';

function markOf(dir: string): bigint | null {
  const key = listAttributesSync(dir).find((k) => /^trusted\.gsyncd\..*\.xtime$/.test(k));
  const v = key ? getAttributeSync(dir, key) : null;
  return v ? (BigInt(v.readUInt32BE(0)) << 32n) | BigInt(v.readUInt32BE(4)) : null;
}

function chattr(flag: '+i' | '-i', dir: string): void {
  const r = spawnSync('chattr', [flag, dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, `chattr ${flag} ${dir}: ${r.stderr}`);
}

test('a failing directory caps its ancestors\' marks at its old mark instead of keeping them unmarked', { timeout: 120_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const master = await tmpDir('master', stack);
  const slave = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  // b and c below their own parents: a failure in b also fails x (b's attributes are x's work).
  for (const d of ['x/b', 'y/c']) {
    fs.mkdirSync(path.join(master, d), { recursive: true });
    fs.writeFileSync(path.join(master, d, 'f0'), `${d}0\n`);
  }
  const frozen = new Set<string>();
  stack.defer('unfreeze the slave', () => { for (const d of frozen) spawnSync('chattr', ['-i', d]); });
  const freeze = (d: string) => { chattr('+i', d); frozen.add(d); };
  const thaw = (d: string) => { chattr('-i', d); frozen.delete(d); };
  const pass = async (label: string) => {
    const r = await gsyncd(['--turns', '1', '--max-rsync-retries', '1', '--state-dir', stateDir, '--session-name', 'partial', master, slave], { timeoutMs: 60_000 });
    const state = JSON.parse(fs.readFileSync(path.join(stateDir, 'partial', 'state.json'), 'utf8')) as { syncedUpTo?: number };
    return { r, label, root: markOf(slave), b: markOf(path.join(slave, 'x/b')), c: markOf(path.join(slave, 'y/c')), syncedUpTo: state.syncedUpTo ?? 0 };
  };

  const p1 = await pass('initial');
  assert.equal(p1.r.code, 0, p1.r.stderr);
  assert.ok(p1.root && p1.b && p1.c, 'every directory marked after the first pass');

  // Pass 2: c refuses new entries; b changes and syncs.
  fs.writeFileSync(path.join(master, 'x/b', 'f1'), 'b1\n');
  fs.writeFileSync(path.join(master, 'y/c', 'f1'), 'c1\n');
  freeze(path.join(slave, 'y/c'));
  const p2 = await pass('c failing');
  assert.equal(p2.c, p1.c, 'the failing directory keeps its old mark');
  assert.ok(p2.b! > p1.b!, 'the directory that synced got a newer mark');
  assert.equal(p2.root, p1.root, 'the root cannot claim more than c\'s old mark, which it already had');

  // Pass 3: c recovers, now b refuses: the root may claim everything up to b's mark from pass 2.
  thaw(path.join(slave, 'y/c'));
  fs.writeFileSync(path.join(master, 'x/b', 'f2'), 'b2\n');
  freeze(path.join(slave, 'x/b'));
  const p3 = await pass('b failing');
  assert.ok(p3.c! > p2.c!, 'c synced and was marked');
  assert.equal(p3.b, p2.b, 'b keeps its old mark');
  assert.equal(p3.root, p2.b, `the root is marked with the failed directory's old mark (${[p1, p2, p3].map((p) => `${p.label}: root ${p.root?.toString(16)} b ${p.b?.toString(16)} c ${p.c?.toString(16)}`).join('; ')})`);
  assert.ok(p3.root! > p2.root!, 'so the root mark advanced although the pass was incomplete');
  assert.ok(p3.syncedUpTo > p2.syncedUpTo, `synced-up-to advanced (${p2.syncedUpTo} -> ${p3.syncedUpTo})`);
  assert.ok(fs.readFileSync(path.join(slave, 'y/c', 'f1'), 'utf8') === 'c1\n');
  assert.ok(!fs.existsSync(path.join(slave, 'x/b', 'f2')), 'b/f2 could not be written');

  // Pass 4: nothing fails; the skipped work is found again through the capped marks.
  thaw(path.join(slave, 'x/b'));
  const p4 = await pass('recovered');
  assert.equal(p4.r.code, 0, p4.r.stderr);
  assert.deepEqual(compareTrees(master, slave), [], 'slave equals master');
});
