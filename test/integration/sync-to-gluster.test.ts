// Local GlusterFS volume slaves (`:VOL`): the core-sync scenario from a plain directory master and
// from another local volume (the README's `:pop :yow` form). The slave is compared through an
// ordinary FUSE mount of the slave volume; the marks gsyncd keeps on the slave are checked to be
// stored under the key a gluster slave keeps (trusted.glusterfs.<master-id>.xtime, see
// src/slave/gluster-slave.ts), since a `--client-pid=-1` mount silently drops trusted.gsyncd.*.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createVolume, parseXtime, readXattr, type Volume } from '../support/gluster.js';
import { requireRoot, requireTools, testCleanup, tmpDir } from '../support/proc.js';
import { GLUSTER_SLAVE_UNSTORABLE_XATTRS, runSyncScenario } from './sync-scenarios.js';

const SESSION = 'to-gluster';

/** The slave root carries the session's mark under trusted.glusterfs.<masterId>.xtime, not trusted.gsyncd.*. */
async function checkSlaveMarks(slaveVol: Volume, masterId: string, log: (m: string) => void): Promise<void> {
  const aux = await slaveVol.auxMount();
  try {
    const mark = await readXattr(aux, `trusted.glusterfs.${masterId}.xtime`);
    assert.ok(mark, `slave root has no trusted.glusterfs.${masterId}.xtime mark after the sync`);
    const x = parseXtime(mark);
    assert.ok(x.sec > 0, `slave root mark is zero: ${mark.toString('hex')}`);
    log(`slave root mark trusted.glusterfs.${masterId}.xtime = ${x.sec}.${String(x.usec).padStart(6, '0')}`);
    // A subdirectory the scenario synced carries one too (marks are per directory).
    assert.ok(await readXattr(path.join(aux, 'docs'), `trusted.glusterfs.${masterId}.xtime`), 'slave docs/ has no mark');
    assert.equal(await readXattr(aux, `trusted.gsyncd.${masterId}.xtime`), null, 'a trusted.gsyncd.* mark cannot be stored on a gluster slave');
  } finally {
    await slaveVol.unmount(aux);
  }
}

test('directory → gluster volume (:VOL): initial sync, then every kind of change', { timeout: 170_000 }, async (t) => {
  requireRoot();
  requireTools(['gluster', 'glusterfs', 'rsync', 'getfattr', 'diff']);
  const stack = testCleanup(t);
  const masterDir = await tmpDir('master', stack);
  const slaveVol = await createVolume({ cleanup: stack });
  const slaveView = await slaveVol.fuseMount();
  const stateDir = await tmpDir('state', stack);
  const t0 = Date.now();
  await runSyncScenario({
    master: { url: masterDir, dir: masterDir },
    slave: { url: `:${slaveVol.name}`, dir: slaveView },
    stateDir,
    ignoreRoot: ['.gfid'],
    ignoreXattrs: GLUSTER_SLAVE_UNSTORABLE_XATTRS,
    extraArgs: ['--session-name', SESSION],
    log: (m) => t.diagnostic(m),
  });
  t.diagnostic(`scenario took ${Date.now() - t0} ms`);
  const masterId = fs.readFileSync(path.join(stateDir, SESSION, 'tracker', 'volume-id'), 'utf8').trim();
  assert.ok(masterId, 'the tracker has a master id');
  await checkSlaveMarks(slaveVol, masterId, (m) => t.diagnostic(m));
});

test('gluster volume → gluster volume (:pop :yow): initial sync, then every kind of change', { timeout: 170_000 }, async (t) => {
  requireRoot();
  requireTools(['gluster', 'glusterfs', 'rsync', 'getfattr', 'diff']);
  const stack = testCleanup(t);
  const masterVol = await createVolume({ cleanup: stack });
  const slaveVol = await createVolume({ cleanup: stack });
  const masterView = await masterVol.fuseMount();
  const slaveView = await slaveVol.fuseMount();
  const t0 = Date.now();
  await runSyncScenario({
    master: { url: `:${masterVol.name}`, dir: masterView },
    slave: { url: `:${slaveVol.name}`, dir: slaveView },
    stateDir: await tmpDir('state', stack),
    ignoreRoot: ['.gfid'],
    ignoreXattrs: GLUSTER_SLAVE_UNSTORABLE_XATTRS,
    log: (m) => t.diagnostic(m),
  });
  t.diagnostic(`scenario took ${Date.now() - t0} ms`);
  await checkSlaveMarks(slaveVol, masterVol.uuid, (m) => t.diagnostic(m));
});
