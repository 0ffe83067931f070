// Bench volumes: fresh single-brick volumes on the root glusterd (test/support/gluster.ts
// createVolume), named gsb<pid>n<k><role> so a later run can reap a crashed run's leftovers, with
// bricks under BENCH_BASE/bricks. Every master gets marker indexing and the changelog (what real
// geo-replication needs; the same write path for every peer). Mounts live under the run directory.
import fs from 'node:fs';
import path from 'node:path';
import { createVolume, localCluster, mustGluster, type GlusterCluster, type Volume } from '../test/support/gluster.js';
import { type CleanupStack, pidAlive, waitFor } from '../test/support/proc.js';
import { BRICK_BASE, HOST, unmountVolumeEverywhere, visibleVia } from './env.js';

let seq = 0;
let cluster: GlusterCluster | undefined;

export interface BenchVolume {
  readonly name: string;
  readonly vol: Volume;
  /** An ordinary FUSE mount (zero cache timeouts), made on first use: w = the writer's (and lsyncd's), p = the poller's, r = a raw copy's source. */
  mount(kind: 'w' | 'p' | 'r'): Promise<string>;
  /**
   * Where the visibility checker looks: the (single) brick directory, or with
   * BENCH_VISIBLE=mount the zero-cache FUSE mount `p`. Polling a mount every 10–200 ms loads the
   * slave brick it measures (see bench/README.md, "Session 7"); the brick is what every client of
   * a single-brick volume sees, and reading it costs the volume nothing.
   */
  view(): Promise<string>;
  /** pid of the (single) brick process, or 0. */
  brickPid(): number;
  /**
   * Restart the brick process (kill it, `volume start force`), so the next peer meets a brick in
   * the same state as the one before it: a brick that served parallel writers keeps a grown
   * io-threads pool, whose workers fight over its lock on 2 cores (bench/README.md, "Session 13").
   */
  restartBrick(): Promise<void>;
}

export async function benchVolume(role: 'm' | 's', runDir: string, stack: CleanupStack): Promise<BenchVolume> {
  cluster ??= { ...(await localCluster()), brickNodes: [{ host: HOST, dir: BRICK_BASE }] };
  fs.mkdirSync(BRICK_BASE, { recursive: true });
  const name = `gsb${process.pid}n${++seq}${role}`;
  const vol = await createVolume({ name, cluster, changelog: role === 'm', cleanup: stack });
  // Runs before destroy (LIFO): mounts a peer left behind (an aux mount of a killed gsyncd).
  stack.defer(`unmount stray mounts of ${name}`, () => unmountVolumeEverywhere(name));
  const mounts = new Map<string, Promise<string>>();
  const mount = (kind: 'w' | 'p' | 'r'): Promise<string> => {
    let m = mounts.get(kind);
    if (!m) {
      const dir = path.join(runDir, 'mnt', `${name}-${kind}`);
      m = vol.fuseMount({ dir });
      mounts.set(kind, m);
    }
    return m;
  };
  return {
    name,
    vol,
    mount,
    view() {
      if (visibleVia() === 'mount' || vol.brickDirs.length !== 1) return mount('p');
      return Promise.resolve(vol.brickDirs[0]!);
    },
    brickPid,
    async restartBrick() {
      const old = brickPid();
      if (old && pidAlive(old)) {
        process.kill(old, 'SIGTERM');
        await waitFor(() => !pidAlive(old), { what: `the brick of ${name} (pid ${old}) to exit`, timeoutMs: 10_000, intervalMs: 50 });
      }
      await mustGluster(vol.cluster, ['volume', 'start', name, 'force']);
      await waitFor(
        () => {
          const pid = brickPid();
          return pid !== old && pidAlive(pid);
        },
        { what: `a new brick process of ${name}`, timeoutMs: 10_000, intervalMs: 50 },
      );
      // The mounts reconnect on their own; wait until one answers again.
      const probe = mounts.get('w');
      if (probe) {
        const dir = await probe;
        await waitFor(
          () => {
            fs.readdirSync(dir);
            return true;
          },
          { what: `${dir} to answer after the brick restart`, timeoutMs: 20_000 },
        );
      }
    },
  };
  function brickPid(): number {
    const dir = `/var/run/gluster/vols/${name}`;
    try {
      const f = fs.readdirSync(dir).find((e) => e.endsWith('.pid'));
      return f ? Number(fs.readFileSync(path.join(dir, f), 'utf8').trim()) : 0;
    } catch {
      return 0;
    }
  }
}

