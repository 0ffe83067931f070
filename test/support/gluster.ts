// Real GlusterFS for integration tests: the root-namespace glusterd, throwaway volumes, FUSE and
// auxiliary (gsyncd-style) mounts, and the marker's xtime. See docs/testing.md and
// /work/shared/design/RECIPES-gluster.md (the recipes this follows).
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import {
  CommandError,
  TEST_TMP_BASE,
  cleanup as fileCleanup,
  type CleanupStack,
  describeCommand,
  fileLock,
  isMountPoint,
  mountsBelow,
  mustRun,
  removeTree,
  run,
  type RunOptions,
  type RunResult,
  sleep,
  tmpDir,
  unmount,
  waitFor,
} from './proc.js';

/** Where `ensureGlusterd` records the pid of a glusterd it started (read by
 *  test/support/stop-test-glusterd.sh, which scripts/test.sh runs at the end). */
export const GLUSTERD_STARTED_MARKER = '/run/gsyncd-test/glusterd.pid';
const GLUSTERD_PIDFILE = '/run/glusterd.pid';
const GLUSTERD_LOCK = '/run/lock/gsyncd-test-glusterd.lock';

/** Marker xtime/stime value: two big-endian uint32, seconds then microseconds. */
export interface Xtime {
  sec: number;
  usec: number;
}

/** <0, 0, >0 like a comparator. */
export function compareXtime(a: Xtime, b: Xtime): number {
  return a.sec - b.sec || a.usec - b.usec;
}

export function xtimeIsZero(x: Xtime): boolean {
  return x.sec === 0 && x.usec === 0;
}

/** Parse 8 bytes (Buffer or "0x" + 16 hex digits) into an Xtime. */
export function parseXtime(v: Buffer | string): Xtime {
  const b = typeof v === 'string' ? Buffer.from(v.replace(/^0x/, ''), 'hex') : v;
  if (b.length !== 8) throw new Error(`xtime must be 8 bytes, got ${b.length} (${b.toString('hex')})`);
  return { sec: b.readUInt32BE(0), usec: b.readUInt32BE(4) };
}

/**
 * Value of xattr `name` on `path` (getfattr -e hex), or null when the attribute is absent
 * ("No such attribute"). Throws for any other failure (no such file, not a mount, ...).
 */
export async function readXattr(path: string, name: string): Promise<Buffer | null> {
  const r = await run('getfattr', ['--absolute-names', '-n', name, '-e', 'hex', '--', path], { timeoutMs: 30_000 });
  if (r.code !== 0) {
    if (/No such attribute|No data available/.test(r.stderr)) return null;
    throw new CommandError(describeCommand('getfattr', ['-n', name, '-e', 'hex', path]), r);
  }
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${name}=`));
  if (!line) throw new Error(`getfattr printed no ${name}= line for ${path}: ${r.stdout}`);
  const value = line.slice(name.length + 1);
  if (!value.startsWith('0x')) throw new Error(`unexpected getfattr value for ${name} on ${path}: ${value}`);
  return Buffer.from(value.slice(2), 'hex');
}

// ---------------------------------------------------------------------------------------------
// glusterd in the root network namespace

function netnsInode(pid: number | 'self'): number | undefined {
  try {
    return statSync(`/proc/${pid}/ns/net`).ino;
  } catch {
    return undefined;
  }
}

function isRootNsGlusterd(pid: number): boolean {
  try {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'glusterd') return false;
  } catch {
    return false;
  }
  return netnsInode(pid) === netnsInode('self');
}

/** pid of the glusterd of our (root) network namespace, if one runs. Namespaced glusterds (from
 *  netns-host.sh) are never returned. */
export async function rootGlusterdPid(): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(GLUSTERD_PIDFILE, 'utf8')).trim());
    if (pid > 0 && isRootNsGlusterd(pid)) return pid;
  } catch {
    // no pid file: look it up
  }
  const r = await run('pidof', ['glusterd']);
  return r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .find((p) => isRootNsGlusterd(p));
}

/** Does the root glusterd answer the CLI? */
export async function glusterdAnswers(): Promise<boolean> {
  const r = await run('gluster', ['--mode=script', 'peer', 'status'], { timeoutMs: 20_000 });
  return r.code === 0;
}

export interface GlusterdInfo {
  /** 0 if it answers but its pid could not be found. */
  pid: number;
  /** True when this call started it (it is then recorded in GLUSTERD_STARTED_MARKER). */
  startedNow: boolean;
}

let staleVolumesReaped = false;

/**
 * Make sure the root-namespace glusterd answers; start it (`glusterd -p /run/glusterd.pid`) if no
 * glusterd runs there. A glusterd we start is recorded in GLUSTERD_STARTED_MARKER and is NOT
 * stopped by this process: scripts/test.sh stops it by pid at the end of the whole run (only if
 * no volumes are left). Throws - never skips - when glusterd cannot be started. Serialized with
 * other test processes by a file lock (two glusterds would fight over /run/glusterd.socket).
 * Also reaps test volumes left by dead test processes (once per process).
 */
export async function ensureGlusterd(): Promise<GlusterdInfo> {
  const release = await fileLock(GLUSTERD_LOCK, { timeoutMs: 180_000, what: 'the glusterd start lock' });
  const info = await (async (): Promise<GlusterdInfo> => {
    // Answering = someone's glusterd owns /run/glusterd.socket: never start a second one.
    if (await glusterdAnswers()) return { pid: (await rootGlusterdPid()) ?? 0, startedNow: false };
    const existing = await rootGlusterdPid();
    if (existing) {
      // Running but not answering (yet): maybe just starting. Never start a second one.
      await waitFor(glusterdAnswers, {
        what: `the running glusterd (pid ${existing}) to answer \`gluster peer status\``,
        timeoutMs: 30_000,
        intervalMs: 250,
      });
      return { pid: existing, startedNow: false };
    }
    const start = await run('glusterd', ['-p', GLUSTERD_PIDFILE], { timeoutMs: 60_000 });
    if (start.code !== 0) {
      throw new Error(
        `cannot start glusterd (${describeCommand('glusterd', ['-p', GLUSTERD_PIDFILE])} exited ${start.code}): ` +
          `${start.stderr.trim()} - see /var/log/glusterfs/glusterd.log`,
      );
    }
    await waitFor(glusterdAnswers, {
      what: 'the glusterd we started to answer `gluster peer status` (log: /var/log/glusterfs/glusterd.log)',
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    const pid = await rootGlusterdPid();
    if (!pid) throw new Error('glusterd answers but its pid was not found');
    await mkdir(join(GLUSTERD_STARTED_MARKER, '..'), { recursive: true });
    await writeFile(GLUSTERD_STARTED_MARKER, `${pid}\n`);
    return { pid, startedNow: true };
  })().finally(release);
  if (!staleVolumesReaped) {
    staleVolumesReaped = true;
    await reapStaleTestVolumes(localGluster);
  }
  return info;
}

// ---------------------------------------------------------------------------------------------
// Clusters: where volumes are created

/** A glusterd (or trusted pool) volumes can be created on. */
export interface GlusterCluster {
  /** Run the gluster CLI against this cluster's glusterd (`--mode=script` is added). */
  gluster(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Host that root-namespace clients mount from (mount -t glusterfs HOST:/vol). */
  volfileServer: string;
  /** One per node: its brick host name/IP and a directory for brick dirs (round-robin). */
  brickNodes: readonly { host: string; dir: string }[];
}

async function localGluster(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('gluster', ['--mode=script', ...args], { timeoutMs: 150_000, ...opts });
}

/** Run a gluster CLI command on `cluster`, retrying "Another transaction is in progress" (the
 *  volume lock is held briefly by concurrent operations), throwing on failure. */
export async function mustGluster(cluster: Pick<GlusterCluster, 'gluster'>, args: readonly string[]): Promise<RunResult> {
  for (let attempt = 0; ; attempt++) {
    const r = await cluster.gluster(args);
    if (r.code === 0) return r;
    const text = `${r.stdout}\n${r.stderr}`;
    if (attempt < 20 && /Another transaction is in progress|Locking failed/.test(text)) {
      await sleep(500);
      continue;
    }
    throw new CommandError(describeCommand('gluster', args), r);
  }
}

/** Check that `host` names this machine (a loopback address or an address of one of our
 *  interfaces), as glusterd requires for brick HOST:/path on the local node. */
export async function checkLocalBrickHost(host: string): Promise<void> {
  let addrs: string[];
  try {
    addrs = (await lookup(host, { all: true, family: 4 })).map((a) => a.address);
  } catch (e) {
    throw new Error(
      `hostname '${host}' does not resolve (${(e as Error).message}); gluster bricks are named by it. ` +
        `Add "127.0.1.1 ${host}" to /etc/hosts.`,
    );
  }
  const local = new Set(Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((i) => i.address)));
  const ok = addrs.filter((a) => a.startsWith('127.') || local.has(a));
  if (!ok.length) {
    throw new Error(
      `hostname '${host}' resolves to ${addrs.join(', ')}, which is not this machine's (expected 127.0.0.1 or ` +
        `a local address); gluster bricks are named by it. Add "127.0.1.1 ${host}" to /etc/hosts.`,
    );
  }
}

let localClusterPromise: Promise<GlusterCluster> | undefined;

/** The root-namespace glusterd (started if needed), bricks named `$(hostname):TEST_TMP_BASE/...`. */
export function localCluster(): Promise<GlusterCluster> {
  localClusterPromise ??= (async () => {
    const host = hostname();
    await checkLocalBrickHost(host);
    await ensureGlusterd();
    return { gluster: localGluster, volfileServer: 'localhost', brickNodes: [{ host, dir: TEST_TMP_BASE }] };
  })();
  localClusterPromise.catch(() => (localClusterPromise = undefined));
  return localClusterPromise;
}

// ---------------------------------------------------------------------------------------------
// Volumes

export interface FuseMountOptions {
  /** Mount point (created); default a fresh tmpDir. */
  dir?: string;
  /** Extra -o options besides attribute-timeout=0,entry-timeout=0,negative-timeout=0,acl. */
  options?: readonly string[];
}

export interface Volume {
  name: string;
  /** "Volume ID" from `gluster volume info`. */
  uuid: string;
  /** `trusted.glusterfs.<uuid>.xtime` */
  xtimeKey: string;
  /** Brick directories as seen from the root namespace. */
  brickDirs: string[];
  /** Brick specs as given to `volume create` (HOST:/path). */
  bricks: string[];
  cluster: GlusterCluster;
  /** Ordinary client mount (mount -t glusterfs SERVER:/NAME, zero cache timeouts). */
  fuseMount(opts?: FuseMountOptions): Promise<string>;
  /** gsyncd-style mount: glusterfs --client-pid=-1 --aux-gfid-mount (trusted.* visible, /.gfid/). */
  auxMount(opts?: { dir?: string }): Promise<string>;
  /** Unmount one mount made by fuseMount/auxMount. */
  unmount(dir: string): Promise<void>;
  /** xtime of `path` (an aux mount path or a brick path). Throws when absent. */
  readXtime(path: string): Promise<Xtime>;
  /** xtime of `path`, or null when it has none. */
  readXtimeOrNull(path: string): Promise<Xtime | null>;
  /** Read trusted.glusterfs.volume-mark on an aux mount root (DHT aggregates xtime across bricks
   *  only after this; see RECIPES-gluster.md section 9). Returns the raw value. */
  readVolumeMark(auxDir: string): Promise<Buffer>;
  /** Unmount every mount made here, stop + delete the volume, remove the brick dirs. Idempotent. */
  destroy(): Promise<void>;
}

export interface CreateVolumeOptions {
  /** Default gs_<pid>_<random>: the pid lets later runs reap volumes of crashed test processes. */
  name?: string;
  /** Number of bricks (distributed), assigned round-robin to the cluster's nodes. Default 1. */
  bricks?: number;
  /** geo-replication.indexing (marker xtime). Default true. */
  indexing?: boolean;
  /** changelog.changelog. Default false. */
  changelog?: boolean;
  /** Further `volume set` options, applied before start. */
  options?: Record<string, string>;
  /** Default: the root-namespace glusterd (localCluster()). */
  cluster?: GlusterCluster;
  /** Where destroy() is registered; default the file's `cleanup`. */
  cleanup?: CleanupStack;
}

export function testVolumeName(): string {
  return `gs_${process.pid}_${randomBytes(3).toString('hex')}`;
}

/** Create, configure and start a throwaway volume; destroy() is registered on the cleanup stack. */
export async function createVolume(opts: CreateVolumeOptions = {}): Promise<Volume> {
  const cluster = opts.cluster ?? (await localCluster());
  const stack = opts.cleanup ?? fileCleanup;
  const name = opts.name ?? testVolumeName();
  const count = opts.bricks ?? 1;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new Error(`bad volume name '${name}'`);
  if (count < 1 || cluster.brickNodes.length === 0) throw new Error('need at least one brick and one node');

  const brickDirs: string[] = [];
  const bricks: string[] = [];
  for (let i = 0; i < count; i++) {
    const node = cluster.brickNodes[i % cluster.brickNodes.length]!;
    const dir = join(node.dir, `${name}-bricks`, `b${i}`);
    brickDirs.push(dir);
    bricks.push(`${node.host}:${dir}`);
  }
  const mounts = new Set<string>();
  let destroyed = false;
  let created = false;

  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    const errors: string[] = [];
    for (const m of [...mounts].reverse()) {
      try {
        await unmount(m);
        mounts.delete(m);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (created) {
      await cluster.gluster(['volume', 'stop', name, 'force']);
      const del = await cluster.gluster(['volume', 'delete', name]);
      if (del.code !== 0 && !/does not exist/.test(del.stdout + del.stderr)) {
        errors.push(`volume delete ${name}: ${(del.stderr || del.stdout).trim()}`);
      }
    }
    for (const d of new Set(brickDirs.map((b) => join(b, '..')))) {
      try {
        await removeTree(d);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (errors.length) throw new Error(`destroying volume ${name}: ${errors.join('; ')}`);
  };
  stack.defer(`destroy volume ${name}`, destroy);

  for (const d of brickDirs) await mkdir(join(d, '..'), { recursive: true });
  await mustGluster(cluster, ['volume', 'create', name, ...bricks, 'force']);
  created = true;
  const settings: [string, string][] = [
    ['geo-replication.indexing', opts.indexing === false ? 'off' : 'on'],
    ...(opts.changelog ? ([['changelog.changelog', 'on']] as [string, string][]) : []),
    ...Object.entries(opts.options ?? {}),
  ];
  for (const [k, v] of settings) await mustGluster(cluster, ['volume', 'set', name, k, v]);
  await mustGluster(cluster, ['volume', 'start', name]);

  const info = await mustGluster(cluster, ['volume', 'info', name]);
  const uuid = /^Volume ID:\s*(\S+)/m.exec(info.stdout)?.[1];
  if (!uuid) throw new Error(`no "Volume ID" in gluster volume info ${name}:\n${info.stdout}`);
  const xtimeKey = `trusted.glusterfs.${uuid}.xtime`;
  const server = cluster.volfileServer;

  const mountDir = async (dir: string | undefined, kind: string) => {
    const d = dir ?? (await tmpDir(`${name}-${kind}`, stack));
    await mkdir(d, { recursive: true });
    if (isMountPoint(d)) throw new Error(`${d} is already a mount point`);
    return d;
  };

  const vol: Volume = {
    name,
    uuid,
    xtimeKey,
    brickDirs,
    bricks,
    cluster,
    async fuseMount(o: FuseMountOptions = {}) {
      const dir = await mountDir(o.dir, 'fuse');
      const options = ['attribute-timeout=0', 'entry-timeout=0', 'negative-timeout=0', 'acl', ...(o.options ?? [])];
      mounts.add(dir);
      await mustRun('mount', ['-t', 'glusterfs', '-o', options.join(','), `${server}:/${name}`, dir], {
        timeoutMs: 60_000,
      });
      await waitMounted(dir);
      return dir;
    },
    async auxMount(o: { dir?: string } = {}) {
      const dir = await mountDir(o.dir, 'aux');
      mounts.add(dir);
      await mustRun(
        'glusterfs',
        [`--volfile-server=${server}`, `--volfile-id=${name}`, '--client-pid=-1', '--aux-gfid-mount', dir],
        { timeoutMs: 60_000 },
      );
      await waitMounted(dir);
      return dir;
    },
    async unmount(dir: string) {
      await unmount(dir);
      mounts.delete(dir);
    },
    async readXtimeOrNull(path: string) {
      const v = await readXattr(path, xtimeKey);
      return v ? parseXtime(v) : null;
    },
    async readXtime(path: string) {
      const v = await readXattr(path, xtimeKey);
      if (!v) throw new Error(`${path} has no ${xtimeKey} (an ordinary FUSE mount never shows it; use auxMount())`);
      return parseXtime(v);
    },
    async readVolumeMark(auxDir: string) {
      const v = await readXattr(auxDir, 'trusted.glusterfs.volume-mark');
      if (!v) throw new Error(`${auxDir} has no trusted.glusterfs.volume-mark (not an aux mount root?)`);
      return v;
    },
    destroy,
  };
  return vol;
}

/** Wait until `dir` is a mount point that answers stat (a glusterfs client daemonizes first and
 *  mounts later; when it fails, the reason is only in its log). */
async function waitMounted(dir: string): Promise<void> {
  const log = `/var/log/glusterfs/${dir.replace(/^\/+/, '').replaceAll('/', '-')}.log`;
  try {
    await waitFor(async () => isMountPoint(dir) && (await stat(dir)).isDirectory(), {
      what: `glusterfs mount on ${dir}`,
      timeoutMs: 30_000,
      intervalMs: 50,
    });
  } catch (e) {
    let tail = '';
    if (existsSync(log)) tail = readFileSync(log, 'utf8').split('\n').slice(-12).join('\n');
    throw new Error(`${(e as Error).message}; client log ${log}:\n${tail}`, { cause: e });
  }
}

/**
 * Delete volumes named gs_<pid>_* whose creating test process is gone (crashed runs), with their
 * root-namespace mounts and their brick dirs under TEST_TMP_BASE. Volumes of live processes and
 * any other volume are never touched.
 */
export async function reapStaleTestVolumes(gluster: GlusterCluster['gluster']): Promise<string[]> {
  const list = await gluster(['volume', 'list']);
  if (list.code !== 0) return [];
  const reaped: string[] = [];
  for (const name of list.stdout.split('\n').map((l) => l.trim())) {
    const m = /^gs_(\d+)_[0-9a-f]+$/.exec(name);
    if (!m || existsSync(`/proc/${m[1]}`)) continue;
    const info = await gluster(['volume', 'info', name]);
    const brickDirs = [...info.stdout.matchAll(/^Brick\d+:\s*[^:\s]+:(\S+)/gm)].map((x) => x[1]!);
    // root-namespace mounts of it: "HOST:/name" (mount -t glusterfs) or "HOST:name" (aux mount)
    for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
      const [src, mnt, type] = line.split(' ');
      if (type?.startsWith('fuse.glusterfs') && src && mnt && new RegExp(`^[^:]+:/?${name}$`).test(src)) {
        await unmount(mnt).catch(() => undefined);
      }
    }
    await gluster(['volume', 'stop', name, 'force']);
    await gluster(['volume', 'delete', name]);
    for (const d of new Set(brickDirs.map((b) => join(b, '..')))) {
      if (d.startsWith(`${TEST_TMP_BASE}/`) && !mountsBelow(d).length) await removeTree(d).catch(() => undefined);
    }
    reaped.push(name);
  }
  return reaped;
}
