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
import { gsyncd } from '../support/gsyncd.js';
import { requireRoot, testCleanup, tmpDir } from '../support/proc.js';

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
  for (const d of ['a', 'b', 'c']) fs.mkdirSync(path.join(view, d));
  fs.writeFileSync(path.join(view, 'a/f'), 'linked content\n');
  fs.linkSync(path.join(view, 'a/f'), path.join(view, 'b/g'));
  await once('initial sync');
  assert.deepEqual(compareTrees(view, slave), [], 'initial sync');
  assert.equal(ino('a/f'), ino('b/g'));

  // 1. The slave holds b/g as a copy of its own (as a killed batch could leave it); only a changes.
  fs.copyFileSync(path.join(slave, 'b/g'), path.join(slave, 'b/g.copy'));
  fs.renameSync(path.join(slave, 'b/g.copy'), path.join(slave, 'b/g'));
  assert.notEqual(ino('a/f'), ino('b/g'));
  fs.writeFileSync(path.join(view, 'a/other'), 'x\n');
  const r1 = await once('a changed');
  assert.match(r1.stdout + r1.stderr, /hard-link groups made whole/);
  assert.equal(ino('a/f'), ino('b/g'), 'b/g is a link of a/f again');
  assert.deepEqual(compareTrees(view, slave), [], 'slave equals master, b\'s times included');

  // 2. The id map is lost (a kill with every name in doubt): a new name c/h of the same file is
  // sent as a copy (nothing tells gsyncd its other names). Once a directory holding another
  // name is visited, the id map knows c/h (confirmed with c) and the group is joined again.
  const sessionDir = path.join(stateDir, 'links');
  for (const f of fs.readdirSync(sessionDir)) if (f.startsWith('ids-')) fs.rmSync(path.join(sessionDir, f));
  fs.linkSync(path.join(view, 'a/f'), path.join(view, 'c/h'));
  await once('new name with no known partner');
  assert.notEqual(ino('c/h'), ino('a/f'), 'c/h is a copy of its own for now');
  fs.writeFileSync(path.join(view, 'a/other'), 'y\n');
  await once('a changed again');
  assert.equal(ino('c/h'), ino('a/f'), 'c/h follows a/f');
  assert.equal(ino('c/h'), ino('b/g'), 'and so does b/g');
  assert.equal(fs.readFileSync(path.join(slave, 'c/h'), 'utf8'), 'linked content\n');
  assert.deepEqual(compareTrees(view, slave), [], 'slave equals master, hard links included');
});
