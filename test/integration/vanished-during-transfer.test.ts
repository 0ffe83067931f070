// A file that vanishes between the listing and its transfer (here: its grandparent directory is
// renamed while rsync starts) was not sent, so the directory holding it must not be marked. On a
// GlusterFS master the rename moves the xtime of the renamed directory and its parents, not of
// the subdirectory below it: marked, that subdirectory was never looked at again and the file
// never reached the slave (seen in the soak before the fix: whole directories of files missing
// while status said in-sync).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { compareTrees } from '../support/compare.js';
import { createVolume } from '../support/gluster.js';
import { gsyncd } from '../support/gsyncd.js';
import { requireRoot, testCleanup, tmpDir } from '../support/proc.js';

test('gluster master: a file whose ancestor is renamed during its transfer is sent by a later pass, not marked synced', { timeout: 180_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const vol = await createVolume({ cleanup: stack });
  const writeRoot = await vol.fuseMount();
  const slave = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  const work = await tmpDir('work', stack);
  fs.mkdirSync(path.join(writeRoot, 'x', 'sub'), { recursive: true });
  for (const f of ['f1', 'f2']) fs.writeFileSync(path.join(writeRoot, 'x', 'sub', f), `${f}\n`);
  const once = (extra: string[] = []) => gsyncd(['--once', '--state-dir', stateDir, '--session-name', 'vanish', ...extra, `:${vol.name}`, slave], { timeoutMs: 120_000 });
  const first = await once();
  assert.equal(first.code, 0, first.stderr);
  assert.ok(fs.existsSync(path.join(slave, 'x', 'sub', 'f2')));

  // rsync wrapper: the first transfer after the trigger renames x to y on the master first.
  const trigger = path.join(work, 'trigger');
  const wrapper = path.join(work, 'rsync-then-rename.sh');
  fs.writeFileSync(wrapper, `#!/bin/sh\nif [ -e '${trigger}' ]; then rm -f '${trigger}'; mv '${writeRoot}/x' '${writeRoot}/y'; fi\nexec rsync "$@"\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(writeRoot, 'x', 'sub', 'f3'), 'f3 written before the pass\n');
  fs.writeFileSync(trigger, '');
  const second = await once(['--rsync-command', wrapper]);
  assert.ok(!fs.existsSync(trigger), 'the wrapper ran (and renamed x to y during the transfer)');
  assert.equal(second.code, 0, second.stderr);
  // Whatever the second run did, once more without interference must leave nothing behind.
  const third = await once();
  assert.equal(third.code, 0, third.stderr);
  assert.deepEqual(compareTrees(writeRoot, slave), [], 'slave equals master');
  assert.equal(fs.readFileSync(path.join(slave, 'y', 'sub', 'f3'), 'utf8'), 'f3 written before the pass\n');
});
