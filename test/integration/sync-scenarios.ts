// The core-sync acceptance scenario, shared by every master kind × slave kind test file:
// an initial --once sync of a mixed tree, then continuous mode picking up each single change,
// the slave compared with the master after each (diff -r plus stat/xattr/hard-link comparison).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { compareTrees, diffR } from '../support/compare.js';
import { gsyncd, startGsyncd } from '../support/gsyncd.js';
import { waitFor } from '../support/proc.js';
import { continuousChanges, inodeOf, makeMixedTree } from '../support/workload.js';

export interface ScenarioSide {
  /** URL given to gsyncd. */
  readonly url: string;
  /** Where the test writes (master) or reads (slave) the tree. */
  readonly dir: string;
}

export interface ScenarioOptions {
  readonly master: ScenarioSide;
  readonly slave: ScenarioSide;
  readonly stateDir: string;
  /** Names at the root to leave out of comparisons (e.g. '.gfid'). */
  readonly ignoreRoot?: string[];
  /** Extended attributes the slave kind cannot store (not compared). */
  readonly ignoreXattrs?: string[];
  readonly specials?: boolean;
  readonly convergeTimeoutMs?: number;
  readonly extraArgs?: string[];
  /** Run gsyncd under this command prefix (e.g. `ip netns exec gsA210`: the master host). */
  readonly prefix?: readonly string[];
  /** Called while the continuous session runs (e.g. to inspect its connections). */
  readonly whileRunning?: (pid: number) => Promise<void>;
  readonly log: (msg: string) => void;
}

/**
 * A GlusterFS slave is written through a `--client-pid=-1` mount, whose FUSE bridge silently
 * drops a directory's default ACL (access ACLs are kept): real geo-replication, which writes the
 * same way, does not replicate them either. See docs/limitations in the README.
 */
export const GLUSTER_SLAVE_UNSTORABLE_XATTRS = ['system.posix_acl_default'];

export function treeDiffs(o: ScenarioOptions): string[] {
  return compareTrees(o.master.dir, o.slave.dir, { ignoreRoot: o.ignoreRoot, ignoreXattrs: o.ignoreXattrs });
}

async function converge(o: ScenarioOptions, what: string): Promise<void> {
  let last: string[] = [];
  try {
    await waitFor(() => { last = treeDiffs(o); return last.length === 0; }, { timeoutMs: o.convergeTimeoutMs ?? 45_000, intervalMs: 150, what });
  } catch (err) {
    throw new Error(`${(err as Error).message}\nremaining differences:\n  ${last.slice(0, 30).join('\n  ')}`);
  }
}

export async function runSyncScenario(o: ScenarioOptions): Promise<void> {
  const common = ['--state-dir', o.stateDir, '--log-level', process.env.GSYNCD_TEST_LOG_LEVEL ?? 'info', ...(o.extraArgs ?? [])];
  makeMixedTree(o.master.dir, { specials: o.specials });
  const first = await gsyncd(['--once', ...common, o.master.url, o.slave.url], { prefix: o.prefix });
  assert.equal(first.code, 0, `initial --once sync failed:\n${first.stdout}\n${first.stderr}`);
  // The marker may still be propagating xtimes of the last writes: converge, then check diff -r.
  try {
    await converge(o, 'initial sync');
  } catch (err) {
    o.log(first.stdout.slice(-8000));
    throw err;
  }
  assert.equal(await diffR(o.master.dir, o.slave.dir, o.ignoreRoot ?? []), '', 'diff -r after the initial sync');

  const run = startGsyncd([...common, '--change-interval', '0.2', o.master.url, o.slave.url], {}, o.prefix);
  let failed = false;
  try {
    for (const change of continuousChanges()) {
      const t0 = Date.now();
      change.apply(o.master.dir);
      await converge(o, `continuous: ${change.name}`);
      o.log(`${change.name}: converged in ${Date.now() - t0} ms`);
    }
    // A rename of a large file moves it on the slave: same inode there, nothing re-sent.
    const before = inodeOf(path.join(o.slave.dir, 'big.bin'));
    fs.renameSync(path.join(o.master.dir, 'big.bin'), path.join(o.master.dir, 'docs', 'big-renamed.bin'));
    await converge(o, 'continuous: rename big file');
    assert.equal(inodeOf(path.join(o.slave.dir, 'docs', 'big-renamed.bin')), before, 'the renamed big file was re-created on the slave instead of moved');
    assert.equal(await diffR(o.master.dir, o.slave.dir, o.ignoreRoot ?? []), '', 'diff -r after the continuous changes');
    await o.whileRunning?.(run.child.pid!);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    const code = await run.stop();
    if (code !== 0 || failed) { o.log(run.output().slice(-8000)); fs.writeFileSync(path.join('/tmp', `gsyncd-scenario-${process.pid}.log`), run.output()); }
    if (!failed) assert.equal(code, 0, 'gsyncd should exit 0 on SIGTERM');
  }
}
