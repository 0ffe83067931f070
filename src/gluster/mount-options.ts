// What a GlusterFS client mount is asked for: the session's mount settings and the glusterfs
// command line they become. Pure: the mount itself is mount.ts.
import type { EngineLog } from '../log/logger.js';
import type { ResolvedOptions } from '../options/tunables.js';

export interface GlusterMountConfig {
  readonly host: string;
  readonly volume: string;
  readonly glusterCommandDir?: string;
  readonly glusterLogFile?: string;
  readonly glusterLogLevel?: string;
  readonly glusterParams?: string | readonly string[];
  /** Time allowed for glusterd to answer and the mount to come up. */
  readonly connectionTimeoutSec: number;
  /** Where the temp mount dir is made (default: the OS temp dir). */
  readonly mountBaseDir?: string;
}

/** The mount settings of a session, from its options. */
export function mountConfigOf(opts: ResolvedOptions): Omit<GlusterMountConfig, 'host' | 'volume'> {
  return {
    glusterCommandDir: opts.get('gluster-command-dir'),
    glusterLogFile: opts.get('gluster-log-file'),
    glusterLogLevel: opts.get('gluster-log-level'),
    glusterParams: opts.get('gluster-params'),
    connectionTimeoutSec: opts.get('connection-timeout'),
  };
}

/** Options for the aux mount, from the source/slave configuration. */
export function auxMountOptions(c: GlusterMountConfig, log?: EngineLog): AuxMountOptions {
  return {
    host: c.host, volume: c.volume, glusterCommandDir: c.glusterCommandDir, logFile: c.glusterLogFile,
    logLevel: c.glusterLogLevel, params: c.glusterParams, timeoutSec: c.connectionTimeoutSec, baseDir: c.mountBaseDir, log,
  };
}

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
  /**
   * A fresh-listing mount: the kernel keeps entries and attributes for this many seconds (a
   * fraction of one), nothing else caches. Listings through it are trusted only when they start
   * freshListingSettleMs(sec) after the listed directory's xtime was read; see freshListingCache.
   */
  readonly listCacheSec?: number;
}

/**
 * Defaults the mount always gets unless gluster-params sets the same option:
 * - no caching of entries and attributes, in the kernel (1 s by default) or in the client's
 *   md-cache (1 s): measured here, a small file rewritten by another client read back its OLD
 *   content through a default aux mount (20 of 20 tries), and a renamed-away name still
 *   resolved. A pass reads the xtime first and then stats/rsyncs what it saw: stale data would
 *   be stamped as synced and the change lost.
 *   md-cache stays off too, although a READDIRP refreshes what it caches for the files it lists
 *   (measured: 55,700 master-brick FOPs for an initial sync of 1,121 directories with it off,
 *   21,600 with 1 s): on a distributed volume DHT's READDIRP carries no stats for directories,
 *   and a directory's old stat (a type swapped file -> dir, a directory's mtime) was still
 *   answered for many seconds, which a pass would mirror and mark (seen in
 *   sync-distributed.test.ts).
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
 * A fresh-listing mount's caches, forced over gluster-params: only the kernel's entry and
 * attribute caches, for `sec` seconds. A READDIRP fills them, so the lstat of each listed entry
 * right after costs no LOOKUP per path component (measured on 1,122 directories: 30,000 brick
 * FOPs and 8.2 s through the uncached mount, 4,500 and 1.2 s through this one with 1 s). What
 * they hold was fetched at most `sec` earlier: a listing that starts `sec` and a margin after
 * the directory's xtime was read answers nothing older than that read, which is what marking
 * the directory with that xtime needs (the same rule as the uncached mount, where "at most 0 s").
 */
function freshListingCache(sec: number): string[] {
  return [
    '--acl',
    `--attribute-timeout=${sec}`,
    `--entry-timeout=${sec}`,
    '--negative-timeout=0',
    '--xlator-option=*-md-cache.md-cache-timeout=0',
    '--xlator-option=*-dht.assert-no-child-down=true',
  ];
}

/** How long after reading a directory's xtime a listing through a `sec` fresh-listing mount may start. */
export function freshListingSettleMs(sec: number): number {
  // The kernel's timers tick in jiffies (≤ 10 ms) and the client rounds up: 50 ms is ample.
  return Math.ceil(sec * 1000) + 50;
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

/** The glusterfs client's arguments for a mount with these options (the mount dir not included). */
export function glusterfsArgs(opts: AuxMountOptions): string[] {
  const { host, volume, logFile, logLevel } = opts;
  const args = [`--volfile-server=${host}`, `--volfile-id=${volume}`, '--client-pid=-1', '--aux-gfid-mount'];
  if (logFile) args.push(`--log-file=${logFile}`);
  if (logLevel) args.push(`--log-level=${logLevel.toUpperCase()}`);
  const { cacheSec, listCacheSec } = opts;
  if (cacheSec !== undefined || listCacheSec !== undefined) {
    // The caches are what makes reads through this mount safe: no parameter may lengthen them.
    const forced = cacheSec !== undefined ? readMountCache(cacheSec) : freshListingCache(listCacheSec!);
    const keys = new Set(forced.map(cacheKey));
    args.push(...forced);
    for (const p of splitParams(opts.params)) if (!keys.has(cacheKey(p)) && !args.includes(p)) args.push(p);
    return args;
  }
  const extra = splitParams(opts.params);
  const given = new Set(extra.map(paramKey));
  for (const d of MOUNT_DEFAULTS) if (!given.has(paramKey(d))) args.push(d);
  for (const p of extra) if (!args.includes(p)) args.push(p);
  return args;
}

/** gluster-params → `--param` list. */
export function splitParams(params: string | readonly string[] | undefined): string[] {
  if (!params) return [];
  const list = typeof params === 'string' ? params.split(/\s+/) : params.flatMap((p) => p.split(/\s+/));
  return list.filter(Boolean).map((p) => `--${p.replace(/^-+/, '')}`);
}
