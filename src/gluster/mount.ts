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
import { pidAlive } from '../session/pid.js';
import { glusterBinary, runCli } from './volume.js';

export interface AuxMountOptions {
  readonly host: string;
  readonly volume: string;
  readonly glusterCommandDir?: string;
  /** glusterfs client log (`--log-file`); empty: glusterfs' default. */
  readonly logFile?: string;
  /** `--log-level` (TRACE…NONE, any case); empty: glusterfs' default. */
  readonly logLevel?: string;
  /** Extra mount parameters (gluster-params): whitespace-separated string or list; each becomes `--PARAM`. */
  readonly params?: string | readonly string[];
  /** Time allowed for the mount to come up (connection-timeout); 0 = no limit. */
  readonly timeoutSec: number;
  /** Where the temp mount dir is made (default: the OS temp dir). */
  readonly baseDir?: string;
  readonly log?: { warn(obj: object, msg: string): void };
  /**
   * A read mount: the kernel caches entries and attributes for this many seconds (and nothing
   * caches longer, whatever gluster-params say). Only for reads that start at least
   * readMountSettleMs(cacheSec) after what they must see was observed; see READ_MOUNT_CACHE.
   */
  readonly cacheSec?: number;
}

export type MountHealth = 'ok' | 'disconnected' | 'gone' | 'not-mounted';

const DIR_PREFIX = 'gsyncd-aux-mount-';

/**
 * Defaults the mount always gets unless gluster-params sets the same option:
 * - no caching of entries and attributes, in the kernel (1 s by default) or in the client's
 *   md-cache (1 s): measured here, a small file rewritten by another client read back its OLD
 *   content through a default aux mount (20 of 20 tries), and a renamed-away name still
 *   resolved. A pass reads the xtime first and then stats/rsyncs what it saw: stale data would
 *   be stamped as synced and the change lost.
 * - `--acl`: without it the client neither reads nor sets POSIX ACLs (--sync-acls).
 * - `dht.assert-no-child-down`: when a whole DHT subvolume (brick) goes down, a default client
 *   keeps serving the rest and a listing silently lacks that brick's entries (measured: 6 of 11
 *   names). That looks exactly like deletions. With this option the client exits instead (what
 *   the original gsyncd passed too); the mount then reports unhealthy and must be remounted.
 */
const MOUNT_DEFAULTS = [
  // POSIX ACLs are read (master) and written (slave) through this mount (--sync-acls).
  '--acl',
  '--attribute-timeout=0',
  '--entry-timeout=0',
  '--negative-timeout=0',
  '--xlator-option=*-md-cache.md-cache-timeout=0',
  '--xlator-option=*-dht.assert-no-child-down=true',
];

/**
 * A read mount's caches, forced over gluster-params: the kernel keeps entries and attributes for
 * `sec` seconds, which spares the brick a LOOKUP per path component of every file rsync reads
 * (measured: 1,000 small files rsync'd in 10 s from the zero-cache mount, 2.5 s from this one).
 * Every other cache is bounded too: the page cache is dropped at each open, md-cache caches
 * nothing, quick-read and io-cache keep content (nl-cache a name's absence) at most a second,
 * never trusting invalidation alone. So any answer this mount gives reflects the volume at most
 * ~`sec` + 1 s earlier: data read `readMountSettleMs` after a change was observed includes it.
 */
function readMountCache(sec: number): string[] {
  return [
    '--acl',
    `--attribute-timeout=${sec}`,
    `--entry-timeout=${sec}`,
    '--negative-timeout=0',
    '--fopen-keep-cache=off',
    '--xlator-option=*-md-cache.md-cache-timeout=0',
    '--xlator-option=*-quick-read.cache-timeout=1',
    '--xlator-option=*-quick-read.quick-read-cache-invalidation=false',
    '--xlator-option=*-io-cache.cache-timeout=1',
    '--xlator-option=*-nl-cache.nl-cache-timeout=1',
    '--xlator-option=*-dht.assert-no-child-down=true',
  ];
}

/**
 * How long after observing a change a read through a `cacheSec` read mount is sure to see it:
 * the kernel's timeouts, a second for the xlators' whole-second clocks, and a margin.
 */
export function readMountSettleMs(cacheSec: number): number {
  return cacheSec * 1000 + 1500;
}

/** What a parameter sets: `--name` or, for xlator options, `--xlator-option=XLATOR.OPTION`. */
function paramKey(p: string): string {
  const m = /^(--xlator-option=[^=]+)=/.exec(p);
  return m ? m[1]! : p.split('=')[0]!;
}

/** Like paramKey, but an xlator option by its option name only: `*-md-cache.x` = `vol-md-cache.x`. */
function cacheKey(p: string): string {
  const m = /^--xlator-option=[^=]*\.([^.=]+)=/.exec(p);
  return m ? `xlator:${m[1]}` : paramKey(p);
}

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
    const { host, volume, logFile, logLevel } = this.opts;
    const args = [`--volfile-server=${host}`, `--volfile-id=${volume}`, '--client-pid=-1', '--aux-gfid-mount'];
    if (logFile) args.push(`--log-file=${logFile}`);
    if (logLevel) args.push(`--log-level=${logLevel.toUpperCase()}`);
    const { cacheSec } = this.opts;
    if (cacheSec !== undefined) {
      // The caches are what makes reads through this mount safe: no parameter may lengthen them.
      const forced = readMountCache(cacheSec);
      const keys = new Set(forced.map(cacheKey));
      args.push(...forced);
      for (const p of splitParams(this.opts.params)) if (!keys.has(cacheKey(p)) && !args.includes(p)) args.push(p);
      return args;
    }
    const extra = splitParams(this.opts.params);
    const given = new Set(extra.map(paramKey));
    for (const d of MOUNT_DEFAULTS) if (!given.has(paramKey(d))) args.push(d);
    for (const p of extra) if (!args.includes(p)) args.push(p);
    return args;
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

/** glusterfs processes whose command line names `dir` (ours: the directory is private to us). */
function clientsOf(dir: string): number[] {
  let pids: string[];
  try { pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)); } catch { return []; }
  return pids.map(Number).filter((pid) => isGlusterfsClient(pid, dir));
}

/** gluster-params → `--param` list. */
export function splitParams(params: string | readonly string[] | undefined): string[] {
  if (!params) return [];
  const list = typeof params === 'string' ? params.split(/\s+/) : params.flatMap((p) => p.split(/\s+/));
  return list.filter(Boolean).map((p) => `--${p.replace(/^-+/, '')}`);
}

function ownerFileOf(dir: string): string {
  return `${dir}.owner`;
}


/**
 * Unmount aux mounts left by workers that died without cleaning up (kill -9): ours by name,
 * with an owner file naming a process that no longer exists. Their glusterfs clients go with
 * the lazy unmount; the directories and files are removed.
 */
export async function reapOrphanedMounts(base: string, log?: { warn(obj: object, msg: string): void }): Promise<void> {
  let names: string[];
  try {
    names = await fs.promises.readdir(base);
  } catch {
    return;
  }
  const mounted = new Set(fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]));
  for (const name of names) {
    if (!name.startsWith(DIR_PREFIX) || !name.endsWith('.owner')) continue;
    const dir = path.join(base, name.slice(0, -'.owner'.length));
    const owner = Number(fs.readFileSync(path.join(base, name), 'utf8').trim());
    if (!Number.isInteger(owner) || owner <= 0 || pidAlive(owner)) continue;
    if (mounted.has(dir)) {
      log?.warn({ mount: dir, owner }, 'unmounting an aux mount left by a worker that died');
      await runCli('umount', ['-l', dir], 10_000).catch(() => null);
    }
    let clientPid = NaN;
    try { clientPid = Number(fs.readFileSync(pidFileOf(dir), 'utf8').trim()); } catch { /* no pid file */ }
    if (Number.isInteger(clientPid) && clientPid > 0 && isGlusterfsClient(clientPid, dir)) {
      try { process.kill(clientPid, 'SIGTERM'); } catch { /* already gone */ }
    }
    for (const f of [pidFileOf(dir), ownerFileOf(dir)]) fs.rmSync(f, { force: true });
    await fs.promises.rmdir(dir).catch(() => null);
  }
}

/** The glusterfs client serving `dir` (never kill a reused pid of something else). */
function isGlusterfsClient(pid: number, dir: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dir);
  } catch {
    return false;
  }
}

function pidFileOf(dir: string): string {
  return `${dir}.pid`;
}

function readPid(dir: string): number | null {
  try {
    const n = Number(fs.readFileSync(pidFileOf(dir), 'utf8').trim());
    return Number.isInteger(n) && n > 1 ? n : null;
  } catch {
    return null;
  }
}

/** The pid still runs a glusterfs client for this mount dir (guards against pid reuse). */

function removeLeftovers(dir: string): void {
  try { fs.rmSync(pidFileOf(dir), { force: true }); fs.rmSync(ownerFileOf(dir), { force: true }); } catch { /* best effort */ }
  try { fs.rmdirSync(dir); } catch { /* still busy or already gone: nothing more to do */ }
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

// ── process-wide cleanup ──

const live = new Set<AuxMount>();
let hooked = false;

/**
 * Make sure `mount` is unmounted when the process ends: at `exit` (normal end, uncaught error)
 * and on SIGTERM/SIGINT. When nobody else listens for the signal we unmount and re-raise it (so
 * the process still dies of it); when the worker has its own handler, the mount stays for the
 * worker's graceful shutdown and the `exit` hook unmounts whatever is left. Returns an
 * unregister function. AuxMount.mount() calls this itself.
 */
export function registerMountCleanup(mount: AuxMount): () => void {
  live.add(mount);
  if (!hooked) {
    hooked = true;
    process.on('exit', unmountAllSync);
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const onSignal = (): void => {
        if (process.listenerCount(sig) > 1) return; // the worker shuts down; `exit` catches the rest
        unmountAllSync();
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      };
      process.on(sig, onSignal);
    }
  }
  return () => unregisterMountCleanup(mount);
}

function unregisterMountCleanup(mount: AuxMount): void {
  live.delete(mount);
}

/** Unmount every live aux mount of this process, synchronously. */
export function unmountAllSync(): void {
  for (const m of [...live]) m.unmountSync();
}

/** Aux mounts this process currently owns (for status and tests). */
export function liveMounts(): string[] {
  return [...live].filter((m) => m.mounted).map((m) => m.dir);
}
