// A GlusterFS volume as a sync master, read through the worker's own aux mount. The marker
// translator keeps `trusted.glusterfs.<volume-uuid>.xtime` on every entry and propagates it to
// the root, so an idle poll costs one getxattr on the mount root; a pass descends only into
// directories whose xtime moved.
import { baseName, type BytePath } from '../core/bytepath.js';
import type { MasterEntry } from '../core/entry.js';
import { gsyncdError } from '../core/errors.js';
import type { HaltReason } from '../core/safety.js';
import { decodeXtime, formatXtime, type Xtime } from '../core/xtime.js';
import { absPath, copyVanished, listDir, lstatEntry, type RawStat } from '../fs/tree.js';
import { getXattr } from '../fs/xattr.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { auxMountOptions, freshListingSettleMs, readMountSettleMs, type GlusterMountConfig } from '../gluster/mount-options.js';
import { AuxMount } from '../gluster/mount.js';
import { SideMount } from './side-mount.js';
import { startedVolumeInfo, type VolumeInfo } from '../gluster/volume.js';
import { decodeVolumeMark, volumeMarkKey, xtimeKey, type VolumeMark } from '../gluster/xattr-names.js';
import type { EngineLog } from '../log/logger.js';
import type { MasterSource } from './source.js';

export interface GlusterSourceOptions extends GlusterMountConfig {
  readonly log: EngineLog;
  /** How often safetyCheck() re-reads the volume-mark (default 30 s). */
  readonly volumeMarkRecheckMs?: number;
  /** getxattr calls in flight while listing a directory (default 16). */
  readonly xattrParallelism?: number;
  /** Kernel cache seconds of the read mount rsync reads data through; 0 = no read mount. */
  readonly readCacheSec?: number;
  /** Kernel cache seconds of the mount fresh directories are listed through; 0 = none (default 0.1). */
  readonly freshListCacheSec?: number;
}

/** Kernel cache of the fresh-listing mount (s): long enough for the lstats right after a READDIRP. */
const FRESH_LIST_CACHE_SEC = 0.1;
/** Read times kept per pass; beyond, a fresh listing waits the whole settle from its start. */
const MAX_READ_TIMES = 200_000;

export class GlusterSource implements MasterSource {
  readonly kind = 'gluster' as const;
  /** Work done, for idle-cost checks and metrics. */
  readonly stats = { getxattr: 0, listedDirs: 0, freshListings: 0 };
  private mount: AuxMount | null = null;
  /** The read mount (data for rsync), mounted by start(); see readMount(). */
  private readonly reader: SideMount;
  /** Lists fresh directories (nothing of them on the slave yet); see list(). */
  private readonly lister: SideMount;
  /** When each directory's xtime was read (ms): a fresh listing of it starts a settle later. */
  private readonly xtimeReadAt = new Map<BytePath, number>();
  /** Fresh listings running (when each began, and its end time once over); see list(). */
  private readonly freshListings = new Set<{ readonly startedAt: number; readonly ended: Promise<number> }>();
  private uuid = '';
  private info: VolumeInfo | null = null;
  private mark: VolumeMark | null = null;
  private markCheckedAt = 0;
  /** Set when a remount found another volume under the same name. */
  private replaced: string | null = null;

  constructor(private readonly opts: GlusterSourceOptions) {
    const base = () => auxMountOptions(opts, opts.log);
    this.reader = new SideMount('read mount', () => ({ ...base(), cacheSec: opts.readCacheSec ?? 1 }), () => this.uuid, opts.log);
    this.lister = new SideMount('fresh-listing mount', () => ({ ...base(), listCacheSec: this.listCacheSec }), () => this.uuid, opts.log);
  }

  private get listCacheSec(): number {
    return this.opts.freshListCacheSec ?? FRESH_LIST_CACHE_SEC;
  }

  get root(): string {
    if (!this.mount?.mounted) throw gsyncdError('GSYNCD_ERR_INTERNAL', 'gluster master used before start()');
    return this.mount.dir;
  }

  get volumeId(): string {
    if (!this.uuid) throw gsyncdError('GSYNCD_ERR_INTERNAL', 'gluster master used before start()');
    return this.uuid;
  }

  /** glusterd's view of the volume (bricks, type), after start(). */
  get volume(): VolumeInfo | null {
    return this.info;
  }

  get volumeMark(): VolumeMark | null {
    return this.mark;
  }

  async start(): Promise<void> {
    if (this.mount) return;
    const { host, volume, log } = this.opts;
    this.info = await startedVolumeInfo(this.opts);
    this.uuid = this.info.uuid;
    const mount = new AuxMount(auxMountOptions(this.opts, this.opts.log));
    await mount.mount();
    this.mount = mount;
    try {
      // DHT aggregates xtime over bricks only after this mount has read the volume-mark once.
      this.mark = await this.readVolumeMark();
      if (!this.mark) {
        log.warn({ volume }, 'the volume has no volume-mark yet (is geo-replication.indexing on?): waiting for it');
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    log.info({ host, volume, volumeId: this.uuid, mount: mount.dir, type: this.info.type, bricks: this.info.bricks.length }, 'gluster master mounted');
    // The read mount too, now: mounted later, in the middle of a pass, a worker killed while its
    // glusterfs client starts leaves that client behind (it failed to mount or hangs).
    await this.readMount();
  }

  /**
   * Replace a dead or disconnected mount with a fresh one (same volume id required). A client
   * that exited (a brick went down, see MOUNT_DEFAULTS) does not come back by itself.
   */
  async remount(): Promise<void> {
    const old = this.mount;
    if (!old) throw gsyncdError('GSYNCD_ERR_INTERNAL', 'gluster master remounted before start()');
    const fresh = new AuxMount(auxMountOptions(this.opts, this.opts.log));
    await fresh.mount();
    this.mount = fresh;
    await old.unmount();
    let raw: Buffer | null;
    try {
      raw = await this.readRawVolumeMark();
    } catch (err) {
      await this.stop();
      throw err;
    }
    const mark = raw ? decodeVolumeMark(raw) : null;
    const problem = raw ? this.markProblem(raw, mark) : null;
    if (problem) {
      // Another volume under the same name (deleted and re-created): never mirror it. The next
      // safety check latches root_type_changed; retrying the mount would only loop.
      this.replaced = problem;
      this.opts.log.error({ was: this.uuid, now: mark?.uuid }, problem);
      return;
    }
    this.mark = mark;
    this.opts.log.info({ mount: fresh.dir }, 'gluster master remounted');
  }

  /** After a 'mount_missing' check: replace the mount unless it came back by itself. */
  async recover(): Promise<void> {
    if (this.mount && (await this.mount.health()) === 'ok') return;
    await this.remount();
  }

  async stop(): Promise<void> {
    const m = this.mount;
    this.mount = null;
    await m?.unmount();
    await this.reader.stop();
    await this.lister.stop();
  }

  /**
   * The read mount: the same volume with the kernel caching entries and attributes for
   * readCacheSec (default 1 s), which rsync reads data through (see readMountCache). Listings,
   * xtimes and everything the crawl decides on still come from the uncached mount. A read mount
   * that cannot be made or stops answering is dropped: the uncached one serves meanwhile.
   */
  async readMount(): Promise<{ root: string; settleMs: number } | null> {
    const sec = this.opts.readCacheSec ?? 1;
    if (sec <= 0 || !this.mount) return null;
    const m = await this.reader.get();
    return m ? { root: m.dir, settleMs: readMountSettleMs(sec) } : null;
  }

  /** Read, decode and check the volume-mark; null when the volume has none (indexing off). */
  private async readVolumeMark(): Promise<VolumeMark | null> {
    const raw = await this.readRawVolumeMark();
    if (!raw) return null;
    const mark = decodeVolumeMark(raw);
    const problem = this.markProblem(raw, mark);
    if (problem) throw gsyncdError('GSYNCD_ERR_MOUNT', problem);
    return mark;
  }

  private async readRawVolumeMark(): Promise<Buffer | null> {
    this.stats.getxattr++;
    this.markCheckedAt = Date.now();
    return this.getRootXattr(volumeMarkKey());
  }

  /**
   * getxattr on the mount root. @napi-rs/xattr answers null for *any* failure (ENOTCONN, EIO
   * too), so a null is confirmed by a stat of the root: a broken mount throws instead of
   * passing for "no xtime yet". Costs nothing extra while the attribute is there.
   */
  private async getRootXattr(name: string): Promise<Buffer | null> {
    const root = this.root;
    const raw = await getXattr(absPath(root, ''), name);
    if (raw === null) await this.assertMounted();
    return raw;
  }

  /**
   * Throw unless the mount is still ours and answering. A client that exited leaves an empty
   * local directory behind the same path: read as the master, that is "everything deleted".
   */
  private async assertMounted(): Promise<void> {
    const m = this.mount;
    const health = m ? await m.health() : 'not-mounted';
    if (health !== 'ok') {
      throw gsyncdError('GSYNCD_ERR_MOUNT', `the master mount of ${this.opts.host}::${this.opts.volume} is ${health === 'disconnected' ? 'not connected' : 'gone'}`);
    }
  }

  /** Why this volume-mark cannot be trusted for this volume, or null. */
  private markProblem(raw: Buffer, mark: VolumeMark | null): string | null {
    const where = `volume ${this.opts.host}::${this.opts.volume}`;
    if (!mark) return `${where}: unreadable volume-mark (${raw.length} bytes)`;
    if (mark.retval !== 0) return `${where}: the volume-mark says the volume is not valid (retval ${mark.retval})`;
    if (mark.uuid !== this.uuid) return `${where}: volume-mark uuid ${mark.uuid} differs from the volume id ${this.uuid}`;
    return null;
  }

  async rootXtime(): Promise<Xtime | null> {
    // A pass starts after every fresh listing of the one before: nothing fetched before its
    // xtime reads is then younger than the kernel's cache time (see list()).
    if (this.freshListings.size > 0) await Promise.all([...this.freshListings].map((l) => l.ended));
    this.xtimeReadAt.clear();
    // Without the volume-mark read on this mount, a multi-brick root xtime is one brick's value.
    if (!this.mark) {
      this.mark = await this.readVolumeMark();
      if (!this.mark) return null;
    }
    this.stats.getxattr++;
    const raw = await this.getRootXattr(xtimeKey(this.uuid));
    this.xtimeReadAt.set('', Date.now()); // after the read, as readXtimes
    const x = decodeXtime(raw);
    if (raw && !x) this.opts.log.warn({ bytes: raw.length }, 'irregular root xtime on the master: ignored');
    return x;
  }

  /**
   * A fresh directory (created on the slave by this pass, with all below it) is listed through
   * the fresh-listing mount, whose kernel keeps what a READDIRP brought for a tenth of a second:
   * no LOOKUP per path component for each entry. Trusted only because the listing starts at
   * least that long (and a margin) after the directory's xtime was read, so no answer predates
   * that read. Any other directory goes through it too when that costs no wait (the mount is up
   * and the settle since its xtime read is over, as when a pass lists the many directories a
   * writer changed: measured 4.1 s for 102 directories of ~10 new files each through the
   * uncached mount); otherwise, and without that mount, through the uncached mount, so a change
   * deep in the tree is not delayed a settle per level.
   */
  async list(dir: BytePath, opts: { readonly fresh?: boolean } = {}): Promise<MasterEntry[] | null> {
    if (!opts.fresh && !this.cachedListingIsFree(dir)) return this.listVia(dir, null);
    const fresh = this.listCacheSec > 0 ? await this.lister.get() : null;
    if (!fresh) return this.listVia(dir, null);
    const readAt = this.xtimeReadAt.get(dir) ?? Date.now();
    // A listing that began before the xtime read may fill the cache with older answers after
    // it: the wait counts from the end of those too.
    const earlier = [...this.freshListings].filter((l) => l.startedAt <= readAt);
    const ends = await Promise.all(earlier.map((l) => l.ended));
    const wait = Math.max(readAt, ...ends) + freshListingSettleMs(this.listCacheSec) - Date.now();
    if (wait > 0) await sleep(wait);
    let end!: (at: number) => void;
    const listing = { startedAt: Date.now(), ended: new Promise<number>((r) => { end = r; }) };
    this.freshListings.add(listing);
    try {
      return await this.listVia(dir, fresh);
    } finally {
      this.freshListings.delete(listing);
      end(Date.now());
    }
  }

  /** A listing of `dir` through the fresh-listing mount could start now, without waiting or mounting. */
  private cachedListingIsFree(dir: BytePath): boolean {
    const readAt = this.xtimeReadAt.get(dir);
    if (readAt === undefined || this.listCacheSec <= 0 || !this.lister.ready) return false;
    if (Date.now() < readAt + freshListingSettleMs(this.listCacheSec)) return false;
    for (const l of this.freshListings) if (l.startedAt <= readAt) return false; // list() would wait for it
    return true;
  }

  private async listVia(dir: BytePath, fresh: AuxMount | null): Promise<MasterEntry[] | null> {
    this.stats.listedDirs++;
    if (fresh) this.stats.freshListings++;
    this.xtimeReadAt.delete(dir);
    const root = fresh ? fresh.dir : this.root;
    // The aux mount serves a virtual `.gfid` directory at the root: never part of the data.
    const raw = await listDir(root, dir, dir === '' ? (n) => n === '.gfid' : undefined);
    // One stat per listed directory: a listing is trusted only if the mount outlived it.
    if (fresh && !(await this.lister.answers(fresh))) throw gsyncdError('GSYNCD_ERR_MOUNT', `the fresh-listing mount of ${this.opts.host}::${this.opts.volume} stopped answering while listing`);
    await this.assertMounted();
    if (!raw) return null;
    const dirNames = raw.filter((e) => e.type === 'dir').map((e) => e.name);
    const xtimes = await this.readXtimes(dir, dirNames, root);
    const out: MasterEntry[] = raw.map((e) => toEntry(e, e.type === 'dir' ? xtimes.get(e.name) ?? undefined : undefined));
    copyVanished(raw, out);
    return out;
  }

  async entryXtimes(dir: BytePath, names: readonly BytePath[]): Promise<Map<BytePath, Xtime | null>> {
    const out = await this.readXtimes(dir, names);
    await this.assertMounted(); // a null read on a dead mount is no answer
    return out;
  }

  /** The xtime of each `dir/name`, up to xattrParallelism getxattr calls in flight (xattrs: never cached). */
  private async readXtimes(dir: BytePath, names: readonly BytePath[], root = this.root): Promise<Map<BytePath, Xtime | null>> {
    const key = xtimeKey(this.uuid);
    const out = new Map<BytePath, Xtime | null>();
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(Math.max(1, this.opts.xattrParallelism ?? 16), names.length) }, async () => {
      while (next < names.length) {
        const name = names[next++]!;
        this.stats.getxattr++;
        const rel = dir === '' ? name : `${dir}/${name}`;
        this.xtimeReadAt.delete(rel); // an older read of it never stands for this one
        out.set(name, decodeXtime(await getXattr(absPath(root, rel), key)));
        // After the read (however slow the brick was): a cached listing of it waits from here.
        // Past the cap none is kept: a listing then waits the whole settle or goes uncached.
        if (this.xtimeReadAt.size < MAX_READ_TIMES) this.xtimeReadAt.set(rel, Date.now());
      }
    }));
    return out;
  }

  async lookup(path: BytePath): Promise<MasterEntry | null> {
    const st = await lstatEntry(this.root, path, baseName(path));
    if (!st || st.dev !== this.mount?.dev) await this.assertMounted();
    return st ? toEntry(st) : null;
  }

  confirmDir(): void {
    // xtime lives on the volume: nothing to record here.
  }

  async flush(): Promise<void> {}

  async safetyCheck(opts: { readonly afterRootXtime?: boolean } = {}): Promise<HaltReason | null> {
    if (this.replaced) return 'root_type_changed';
    const m = this.mount;
    if (!m) return 'mount_missing';
    // A root xtime read through the mount just now proves it answers and is a GlusterFS mount (a
    // directory left by a lost mount has no xtime): an idle poll spares the stat's round trip.
    const health = opts.afterRootXtime ? 'ok' : await m.health();
    if (health !== 'ok') {
      this.opts.log.warn({ mount: m.mounted ? m.dir : null, health }, health === 'disconnected'
        ? 'the master mount is not connected (glusterd/bricks restarting?): waiting for it to reconnect'
        : 'the master mount is gone');
      return 'mount_missing';
    }
    if (Date.now() - this.markCheckedAt >= (this.opts.volumeMarkRecheckMs ?? 30_000)) {
      let raw: Buffer | null;
      try {
        raw = await this.readRawVolumeMark();
      } catch (err) {
        this.opts.log.warn({ err }, 'cannot read the master volume-mark');
        return 'mount_missing';
      }
      if (raw) {
        const mark = decodeVolumeMark(raw);
        const problem = this.markProblem(raw, mark);
        if (problem) {
          this.opts.log.error({ was: this.uuid, now: mark?.uuid }, problem);
          return 'root_type_changed';
        }
        this.mark = mark;
      }
    }
    return null;
  }

  waitForChange(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }

  describe(): string {
    return `gluster master ${this.opts.host}::${this.opts.volume}${this.mark ? ` (indexing since ${formatXtime(this.mark.time)})` : ''}`;
  }
}

/**
 * FUSE inode numbers on GlusterFS are the low 64 bits of the gfid (checked: unchanged by rename
 * and by a remount), so `ino:<n>` is a stable object identity, hard links included.
 */
function toEntry(e: RawStat, xtime?: Xtime): MasterEntry {
  const { ino, dev: _dev, ...rest } = e;
  // Node's bigint stats are signed 64-bit: gfid-derived inode numbers >= 2^63 come out negative.
  const id = `ino:${BigInt.asUintN(64, ino)}`;
  return xtime ? { ...rest, id, xtime } : { ...rest, id };
}
