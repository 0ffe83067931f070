// A worker killed while its entry ops were in flight leaves `ids-VOL.journal.stale` naming the
// paths they touched; the next worker must forget what its saved id map says about them. Here the
// saved map is made wrong on purpose (slave name `a` "holds" object b, as a killed batch could
// leave it) and the marker names `a`: trusting the map would rename a's slave copy away and write
// b's data into the inode a2 shares (seen before the fix: a gone, a2 = "BB").
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { compareTrees } from '../support/compare.js';
import { gsyncd } from '../support/gsyncd.js';
import { requireRoot, testCleanup, tmpDir } from '../support/proc.js';

test('names in doubt after a killed worker are forgotten from the id map, not trusted for renames and links', { timeout: 60_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const master = await tmpDir('master', stack);
  const slave = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  fs.writeFileSync(path.join(master, 'a'), 'AAAA-content\n');
  fs.linkSync(path.join(master, 'a'), path.join(master, 'a2'));
  fs.writeFileSync(path.join(master, 'b'), 'BB\n');
  const once = () => gsyncd(['--once', '--state-dir', stateDir, '--session-name', 'doubt', master, slave], { timeoutMs: 30_000 });
  const first = await once();
  assert.equal(first.code, 0, first.stderr);

  const sessionDir = path.join(stateDir, 'doubt');
  const journal = fs.readdirSync(sessionDir).find((f) => /^ids-.*\.journal$/.test(f));
  assert.ok(journal, `an id map journal in ${sessionDir}`);
  const journalPath = path.join(sessionDir, journal);
  assert.match(fs.readFileSync(journalPath, 'utf8'), /"a2"/, 'the map knows the slave names');
  const bId = `ino:${fs.statSync(path.join(master, 'b')).ino}`;
  fs.appendFileSync(journalPath, `${JSON.stringify(['s', 'a', bId])}\n`);
  fs.writeFileSync(`${journalPath}.stale`, `${JSON.stringify(['a'])}\n`);

  fs.linkSync(path.join(master, 'b'), path.join(master, 'n')); // a new name of b: a link on the slave
  const second = await once();
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout + second.stderr, /forgetting the names they touched/);
  assert.ok(!fs.existsSync(`${journalPath}.stale`), 'the marker is consumed');
  assert.equal(fs.readFileSync(path.join(slave, 'a2'), 'utf8'), 'AAAA-content\n');
  assert.deepEqual(compareTrees(master, slave), [], 'slave equals master, hard links included');
});
