// The fresh-listing mount (GlusterSource.list with `fresh`) on a real two-brick distributed
// volume: it lists what the uncached mount lists, it is the one used (a mount of its own, counted
// listings), and a listing made after a directory's xtime was read shows every change made
// before that read: a rewritten file's new size, a file swapped for a directory and back, a
// rename over a name, though the kernel cached the old answers an instant earlier. A changed
// directory is listed through it too once the settle since its xtime read is over, and through
// the uncached mount right after that read.
import assert from 'node:assert/strict';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { MasterEntry } from '../../src/core/entry.js';
import type { EngineLog } from '../../src/log/logger.js';
import { GlusterSource } from '../../src/master/gluster-source.js';
import { createVolume, type Volume } from '../support/gluster.js';
import { mountsBelow, requireRoot, requireTools, tmpDir } from '../support/proc.js';

const log: EngineLog = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
let vol: Volume;
let fuse: string;
let mountBase: string;

before(async () => {
  requireRoot();
  requireTools(['gluster', 'glusterd', 'glusterfs', 'mount', 'umount']);
  vol = await createVolume({ bricks: 2 });
  fuse = await vol.fuseMount();
  mountBase = await tmpDir('fresh-list-mounts');
});

/** What a decision depends on, per name (times and ids included; xtime left out: it moves). */
function shape(entries: MasterEntry[] | null): string[] {
  return (entries ?? []).map((e) => `${e.name} ${e.type} ${e.size} ${e.mode} ${e.id} ${e.nlink} ${e.mtimeSec}.${e.mtimeNsec}`);
}

test('fresh listings: same answers as the uncached mount, and no answer older than the xtime read before them', { timeout: 180_000 }, async (t) => {
  const src = new GlusterSource({ host: 'localhost', volume: vol.name, connectionTimeoutSec: 30, log, mountBaseDir: mountBase, readCacheSec: 0 });
  await src.start();
  try {
    await mkdir(join(fuse, 'top', 'sub', 'deeper'), { recursive: true });
    for (let i = 0; i < 20; i++) await writeFile(join(fuse, 'top', `f${i}`), Buffer.alloc(100 + i));
    await writeFile(join(fuse, 'top', 'swap'), 'a file first');
    await writeFile(join(fuse, 'top', 'sub', 'x'), 'x');

    await src.rootXtime();
    await src.list(''); // reads the xtime of top
    const uncached = await src.list('top');
    await src.list(''); // a new xtime read: the fresh listing waits from it
    const t0 = Date.now();
    const fresh = await src.list('top', { fresh: true });
    assert.equal(src.stats.freshListings, 1, 'the fresh-listing mount served it');
    assert.deepEqual(shape(fresh), shape(uncached));
    assert.ok(fresh!.find((e) => e.name === 'sub')?.xtime, 'subdirectories come with their xtime');
    assert.equal(mountsBelow(mountBase).length, 2, 'the crawl mount and the fresh-listing mount');
    t.diagnostic(`fresh listing took ${Date.now() - t0} ms after the xtime read`);

    let changedSeen = 0;
    for (let round = 0; round < 8; round++) {
      // The kernel holds the answers of this listing for a moment...
      await src.list('top', { fresh: true });
      // ...and the tree changes right after it, before the xtime read.
      await writeFile(join(fuse, 'top', 'f3'), Buffer.alloc(5000 + round));
      if (round % 2 === 0) { await rm(join(fuse, 'top', 'swap')); await mkdir(join(fuse, 'top', 'swap')); }
      else { await rm(join(fuse, 'top', 'swap'), { recursive: true }); await writeFile(join(fuse, 'top', 'swap'), 'a file again'); }
      await writeFile(join(fuse, 'top', 'new'), `new ${round}`);
      await rename(join(fuse, 'top', 'new'), join(fuse, 'top', 'f7'));
      await src.list(''); // the xtime read a pass marks with
      const after = await src.list('top', { fresh: true });
      const by = new Map(after!.map((e) => [e.name, e]));
      assert.equal(by.get('f3')?.size, 5000 + round, `rewritten file's size (round ${round})`);
      assert.equal(by.get('swap')?.type, round % 2 === 0 ? 'dir' : 'file', `swapped type (round ${round})`);
      assert.equal(by.get('f7')?.size, `new ${round}`.length, `renamed-over name (round ${round})`);
      assert.deepEqual(shape(after), shape(await src.list('top')), `same as the uncached mount (round ${round})`);
      changedSeen++;
    }
    assert.equal(changedSeen, 8);
  } finally {
    await src.stop();
  }
  assert.deepEqual(mountsBelow(mountBase), [], 'stop() unmounts the fresh-listing mount too');
});

test('changed directories: through the fresh-listing mount once the settle since their xtime read is over, uncached right after it', { timeout: 180_000 }, async () => {
  const src = new GlusterSource({ host: 'localhost', volume: vol.name, connectionTimeoutSec: 30, log, mountBaseDir: mountBase, readCacheSec: 0 });
  await src.start();
  try {
    await mkdir(join(fuse, 'chg'), { recursive: true });
    for (let i = 0; i < 10; i++) await writeFile(join(fuse, 'chg', `f${i}`), Buffer.alloc(10 + i));
    await src.rootXtime();
    await src.list('', { fresh: true }); // mounts the fresh-listing mount, reads the xtime of chg
    const before = src.stats.freshListings;
    await src.list('chg'); // straight after its xtime read: no wait, so the uncached mount
    assert.equal(src.stats.freshListings, before, 'listed uncached right after the xtime read');
    for (let round = 0; round < 4; round++) {
      await src.list('chg', { fresh: true }); // the listing mount's kernel holds these answers now
      await writeFile(join(fuse, 'chg', 'f2'), Buffer.alloc(3000 + round));
      await rm(join(fuse, 'chg', `f${5 + round}`));
      await writeFile(join(fuse, 'chg', `n${round}`), 'new');
      await src.list(''); // the xtime read a pass marks with
      await sleep(300); // the settle is over: the next listing costs no wait
      const n = src.stats.freshListings;
      const after = await src.list('chg');
      assert.equal(src.stats.freshListings, n + 1, `listed through the fresh-listing mount (round ${round})`);
      const by = new Map(after!.map((e) => [e.name, e]));
      assert.equal(by.get('f2')?.size, 3000 + round, `rewritten file's size (round ${round})`);
      assert.equal(by.has(`f${5 + round}`), false, `removed name absent (round ${round})`);
      assert.equal(by.get(`n${round}`)?.size, 3, `new name present (round ${round})`);
      assert.deepEqual(shape(after), shape(await src.list('chg')), `same as the uncached mount (round ${round})`);
    }
  } finally {
    await src.stop();
  }
});
