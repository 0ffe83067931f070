// The auxiliary GlusterFS mount a worker reads a volume through (and a gluster slave writes
// through): `glusterfs --client-pid=-1 --aux-gfid-mount` on a fresh temp dir, owned by this
// process. `--client-pid=-1` is gsyncd's pid: trusted.* marks are visible, writes bypass the
// read-only translator and do not move the marker's xtime. The mount must never outlive its
// worker, so every live mount is unmounted synchronously at process exit and on SIGTERM/SIGINT.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gsyncdError } from '../core/errors.js';
import { registerMountCleanup, unregisterMountCleanup } from './mount-cleanup.js';
import { glusterfsArgs, type AuxMountOptions } from './mount-options.js';
import { clientsOf, DIR_PREFIX, isGlusterfsClient, ownerFileOf, pidFileOf, readPid, reapOrphanedMounts, removeLeftovers } from './reaper.js';
import { glusterBinary, runCli } from './volume.js';

export type MountHealth = 'ok' | 'disconnected' | 'gone' | 'not-mounted';

export class AuxMount {
  private dirPath: string | null = null;
  private rootDev: bigint | null = null;

  constructor(private readonly opts: AuxMountOptions) {}

  /** The mount point; throws before mount(). */
  get dir(): string {
    if (!this.dirPath) throw gsyncdError('GSYNCD_ERR_INTERNAL', 'aux mount used before it was mounted');
    return this.dirPath;
  }

  get mounted(): boolean {
    return this.dirPath !== null;
  }

  /** st_dev of the mounted root (FUSE gives every mount its own anonymous device). */
  get dev(): bigint | null {
    return this.rootDev;
  }

  /** The glusterfs command line (without the mount dir), for logs and tests. */
  commandArgs(): string[] {
    return glusterfsArgs(this.opts);
  }

  async mount(): Promise<void> {
    if (this.dirPath) return;
    const base = this.opts.baseDir ?? os.tmpdir();
    await reapOrphanedMounts(base, this.opts.log);
    const dir = await fs.promises.mkdtemp(path.join(base, DIR_PREFIX));
    this.dirPath = dir;
    // Who owns the mount: a worker killed with -9 cannot unmount; the next mount() reaps it.
    fs.writeFileSync(ownerFileOf(dir), String(process.pid));
    registerMountCleanup(this); // from here on an exit or signal unmounts it
    const what = `${this.opts.host}:${this.opts.volume}`;
    const timeoutMs = this.opts.timeoutSec > 0 ? this.opts.timeoutSec * 1000 : 0;
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
    try {
      // GlusterFS 10 sometimes fails a brick handshake at mount time ("volume-id changed ...
      // Needs remount", a race between the bricks' handshakes; seen once in ~130 mounts here);
      // with assert-no-child-down the client then exits at once. A fresh client is fine.
      for (let attempt = 1; ; attempt++) {
        await this.startClient(dir, what, timeoutMs);
        const dev = await waitUntilMounted(dir, deadline, what);
        if (dev !== 'client-exited') {
          this.rootDev = dev;
          return;
        }
        if (attempt >= 3 || Date.now() >= deadline) {
          throw gsyncdError('GSYNCD_ERR_MOUNT', `the glusterfs client for volume ${what} exited right after mounting, ${attempt} times (a brick down?)${this.logHint()}`);
        }
        this.opts.log?.warn({ volume: what, attempt }, 'the glusterfs client exited right after mounting: mounting again');
        await runCli('umount', ['-l', dir], 10_000).catch(() => null); // normally already gone
        fs.rmSync(pidFileOf(dir), { force: true });
      }
    } catch (err) {
      await this.unmount();
      throw err;
    }
  }

  /** Run `glusterfs` (it daemonizes once the mount is made or has failed). */
  private async startClient(dir: string, what: string, timeoutMs: number): Promise<void> {
    const bin = glusterBinary('glusterfs', this.opts.glusterCommandDir);
    const args = [...this.commandArgs(), `--pid-file=${pidFileOf(dir)}`, dir];
    let r;
    try {
      r = await runCli(bin, args, timeoutMs);
    } catch (err) {
      throw gsyncdError('GSYNCD_ERR_MOUNT', `cannot run ${bin} to mount volume ${what}`, err);
    }
    if (r.timedOut) {
      const pid = readPid(dir);
      if (pid !== null && isGlusterfsClient(pid, dir)) try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      throw gsyncdError('GSYNCD_ERR_MOUNT', `mounting volume ${what} did not finish within ${this.opts.timeoutSec} s`);
    }
    if (r.code !== 0) {
      const detail = r.stderr.trim().split('\n').slice(-3).join(' ');
      throw gsyncdError('GSYNCD_ERR_MOUNT',
        `glusterfs could not mount volume ${what} (exit ${r.code}${r.code === 107 ? ': server not reachable' : ''}${detail ? `: ${detail}` : ''})${this.logHint()}`);
    }
  }

  private logHint(): string {
    const f = this.opts.logFile;
    return f && f !== '/dev/null' ? `; see ${f}` : f === '/dev/null' ? '; set gluster-log-file to see why' : '; see the client log under /var/log/glusterfs/';
  }

  /**
   * `ok`, or why not. `disconnected` (ENOTCONN, a stat that hangs) may heal by itself when only
   * the connection dropped; a client that exited (a brick went down: assert-no-child-down) leaves
   * `gone` or `disconnected` for good: remount.
   */
  async health(timeoutMs = 10_000): Promise<MountHealth> {
    const dir = this.dirPath;
    if (!dir || this.rootDev === null) return 'not-mounted';
    try {
      const st = await withTimeout(fs.promises.stat(dir, { bigint: true }), timeoutMs);
      if (st === 'timeout') return 'disconnected';
      if (st.dev !== this.rootDev) return 'gone';
      return 'ok';
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return 'gone';
      return 'disconnected'; // ENOTCONN, EIO...: still mounted, possibly reconnecting
    }
  }

  /** Still our mount and its root answers a stat. Reports only; never unmounts. */
  async isHealthy(): Promise<boolean> {
    return (await this.health()) === 'ok';
  }

  /** umount (falling back to a lazy one), stop the client if it lingers, remove the dir. Idempotent. */
  async unmount(): Promise<void> {
    const dir = this.dirPath;
    if (!dir) return;
    this.dirPath = null;
    this.rootDev = null;
    unregisterMountCleanup(this);
    const pid = readPid(dir);
    const r = await runCli('umount', [dir], 30_000).catch(() => null);
    if (!r || r.code !== 0) {
      if (!r || !/not mounted|no mount point/i.test(r.stderr)) await runCli('umount', ['-l', dir], 30_000).catch(() => null);
    }
    if (pid !== null) {
      // The client exits once the kernel lets go of the mount; nudge it if it does not.
      for (let i = 0; i < 20 && isGlusterfsClient(pid, dir); i++) await new Promise((res) => setTimeout(res, 100));
      if (isGlusterfsClient(pid, dir)) try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    }
    removeLeftovers(dir);
  }

  /** Synchronous variant for process exit: no waiting for the client to go. */
  unmountSync(): void {
    const dir = this.dirPath;
    if (!dir) return;
    this.dirPath = null;
    this.rootDev = null;
    unregisterMountCleanup(this);
    const r = spawnSync('umount', [dir], { stdio: 'ignore', timeout: 10_000 });
    if (r.status !== 0) spawnSync('umount', ['-l', dir], { stdio: 'ignore', timeout: 10_000 });
    // A client still starting (the process exits in the middle of mount()) would mount after we
    // are gone and stay for good: its clients are stopped rather than left behind.
    for (const pid of clientsOf(dir)) try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    removeLeftovers(dir);
  }
}

/** Poll until `dir` is a mountpoint whose root answers; returns its st_dev. */
async function waitUntilMounted(dir: string, deadline: number, what: string): Promise<bigint | 'client-exited'> {
  const parentDev = (await fs.promises.stat(path.dirname(dir), { bigint: true })).dev;
  let last: unknown;
  let pid: number | null = null;
  for (;;) {
    pid ??= readPid(dir);
    // e.g. a brick down at mount time: assert-no-child-down makes the client exit.
    if (pid !== null && !isGlusterfsClient(pid, dir)) return 'client-exited';
    try {
      const st = await fs.promises.stat(dir, { bigint: true });
      if (st.dev !== parentDev) {
        await fs.promises.readdir(dir);
        return st.dev;
      }
      last = new Error('not a mountpoint yet');
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      throw gsyncdError('GSYNCD_ERR_MOUNT', `the mount of volume ${what} on ${dir} did not become readable in time`, last);
    }
    await new Promise((res) => setTimeout(res, 50));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<'timeout'>((res) => { timer = setTimeout(() => res('timeout'), ms); timer.unref(); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

