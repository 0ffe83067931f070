// Plain directory master → local directory slave: the core-sync scenario (TreeTracker + inotify).
import { test } from 'node:test';
import { requireRoot, testCleanup, tmpDir } from '../support/proc.js';
import { runSyncScenario } from './sync-scenarios.js';

test('directory → directory: initial sync, then every kind of change', { timeout: 600_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const masterDir = await tmpDir('master', stack);
  const slaveDir = await tmpDir('slave', stack);
  await runSyncScenario({
    master: { url: masterDir, dir: masterDir },
    slave: { url: `file://${slaveDir}`, dir: slaveDir },
    stateDir: await tmpDir('state', stack),
    log: (m) => t.diagnostic(m),
  });
});
