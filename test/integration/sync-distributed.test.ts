// A distributed GlusterFS volume with one brick on each of two network-namespace hosts (a real
// two-node trusted pool) as the master, reached from the root namespace as
// `gluster://<host 1>:<vol>`: the core-sync scenario to a local directory slave and to a local
// gluster volume slave. Test subnet block 230 (docs/testing.md): hosts gsnA230 and gsnB230.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { createVolume, type Volume } from '../support/gluster.js';
import { glusterPool, netnsHost, testSubnet, type NetnsHost } from '../support/netns.js';
import { type CleanupStack, requireRoot, requireTools, testCleanup, tmpDir } from '../support/proc.js';
import { GLUSTER_SLAVE_UNSTORABLE_XATTRS, runSyncScenario } from './sync-scenarios.js';

const BLOCK = 230;

// One pool for the file (7 s to build): both tests make their own volume on it.
let poolPromise: Promise<[NetnsHost, NetnsHost]> | undefined;
function pool(): Promise<[NetnsHost, NetnsHost]> {
  poolPromise ??= (async () => {
    const a = await netnsHost(`gsnA${BLOCK}`, testSubnet(BLOCK, 0).cidr);
    const b = await netnsHost(`gsnB${BLOCK}`, testSubnet(BLOCK, 1).cidr, a.ip);
    return [a, b] as [NetnsHost, NetnsHost];
  })();
  return poolPromise;
}

/** Regular-file names below `root` (latin1 keys: names may be non-UTF-8); on a brick without its
 *  .glusterfs housekeeping and without DHT link-to stubs (empty, mode ---------T). */
function fileNames(root: string, brick: boolean): Set<string> {
  const out = new Set<string>();
  const walk = (rel: Buffer) => {
    const abs = rel.length ? Buffer.concat([Buffer.from(`${root}/`), rel]) : Buffer.from(root);
    for (const name of readdirSync(abs, { encoding: 'buffer' })) {
      if (!rel.length && (name.toString() === '.glusterfs' || name.toString() === '.gfid')) continue;
      const r = rel.length ? Buffer.concat([rel, Buffer.from('/'), name]) : name;
      const st = lstatSync(Buffer.concat([Buffer.from(`${root}/`), r]));
      if (st.isDirectory()) walk(r);
      else if (st.isFile() && !(brick && st.size === 0 && (st.mode & 0o7777) === 0o1000)) out.add(r.toString('latin1'));
    }
  };
  walk(Buffer.alloc(0));
  return out;
}

/** The data really is spread over both hosts' bricks, and every master file is on one of them. */
function checkBothBricks(vol: Volume, view: string, log: (m: string) => void): void {
  assert.equal(vol.brickDirs.length, 2);
  const perBrick = vol.brickDirs.map((d) => {
    assert.ok(existsSync(d), `brick dir ${d} exists`);
    return fileNames(d, true);
  });
  log(`files per brick: ${perBrick.map((x) => x.size).join(' / ')} (${vol.bricks.join(', ')})`);
  assert.ok(perBrick.every((x) => x.size > 0), `the master's files are on both bricks: ${perBrick.map((x) => x.size).join(' / ')}`);
  const union = new Set([...perBrick[0]!, ...perBrick[1]!]);
  const onVolume = fileNames(view, false);
  const missing = [...onVolume].filter((f) => !union.has(f));
  assert.deepEqual(missing, [], 'every file of the volume has its data on one of the two bricks');
}

async function distributedMaster(stack: CleanupStack) {
  const [a, b] = await pool();
  const vol = await createVolume({ cluster: glusterPool([a, b]), bricks: 2, cleanup: stack });
  assert.deepEqual(vol.bricks.map((x) => x.split(':')[0]), [a.ip, b.ip], 'one brick on each host');
  const view = await vol.fuseMount(); // from the root namespace, volfile server = host 1
  return { vol, view, url: `gluster://${a.ip}:${vol.name}` };
}

test('two-host distributed gluster volume → directory: initial sync, then every kind of change', { timeout: 170_000 }, async (t) => {
  requireRoot();
  requireTools(['ip', 'nsenter', 'unshare', 'glusterd', 'gluster', 'glusterfs', 'rsync', 'diff']);
  const stack = testCleanup(t);
  const t0 = Date.now();
  const m = await distributedMaster(stack);
  t.diagnostic(`pool + volume ready in ${Date.now() - t0} ms`);
  const slaveDir = await tmpDir('slave', stack);
  const t1 = Date.now();
  await runSyncScenario({
    master: { url: m.url, dir: m.view },
    slave: { url: slaveDir, dir: slaveDir },
    stateDir: await tmpDir('state', stack),
    log: (msg) => t.diagnostic(msg),
  });
  t.diagnostic(`scenario took ${Date.now() - t1} ms`);
  checkBothBricks(m.vol, m.view, (msg) => t.diagnostic(msg));
});

test('two-host distributed gluster volume → local gluster volume: initial sync, then every kind of change', { timeout: 170_000 }, async (t) => {
  requireRoot();
  requireTools(['ip', 'nsenter', 'unshare', 'glusterd', 'gluster', 'glusterfs', 'rsync', 'diff']);
  const stack = testCleanup(t);
  const m = await distributedMaster(stack);
  const slaveVol = await createVolume({ cleanup: stack }); // on the root-namespace glusterd
  const slaveView = await slaveVol.fuseMount();
  const t1 = Date.now();
  await runSyncScenario({
    master: { url: m.url, dir: m.view },
    slave: { url: `:${slaveVol.name}`, dir: slaveView },
    stateDir: await tmpDir('state', stack),
    ignoreRoot: ['.gfid'],
    ignoreXattrs: GLUSTER_SLAVE_UNSTORABLE_XATTRS,
    log: (msg) => t.diagnostic(msg),
  });
  t.diagnostic(`scenario took ${Date.now() - t1} ms`);
  checkBothBricks(m.vol, m.view, (msg) => t.diagnostic(msg));
});
