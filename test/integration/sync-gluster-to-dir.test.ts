// GlusterFS volume master → local directory slave: the core-sync scenario.
import { test } from 'node:test';
import { createVolume } from '../support/gluster.js';
import { requireRoot, testCleanup, tmpDir } from '../support/proc.js';
import { runSyncScenario } from './sync-scenarios.js';

test('gluster volume → directory: initial sync, then every kind of change', { timeout: 600_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const vol = await createVolume({ cleanup: stack });
  const writeRoot = await vol.fuseMount();
  const slaveDir = await tmpDir('slave', stack);
  await runSyncScenario({
    master: { url: `:${vol.name}`, dir: writeRoot },
    slave: { url: slaveDir, dir: slaveDir },
    stateDir: await tmpDir('state', stack),
    log: (m) => t.diagnostic(m),
  });
});
