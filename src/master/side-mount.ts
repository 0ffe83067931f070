// A second client mount of the master volume with its own cache settings (the read mount rsync
// reads through, the fresh-listing mount), made on first use. It must show the same volume as
// the crawl's mount (volume-mark uuid); one that cannot be made, or stops answering, is dropped
// and the caller falls back to the uncached mount (a failed one is retried after a minute).
import { absPath } from '../fs/tree.js';
import { getXattr } from '../fs/xattr.js';
import type { AuxMountOptions } from '../gluster/mount-options.js';
import { AuxMount } from '../gluster/mount.js';
import { decodeVolumeMark, volumeMarkKey } from '../gluster/xattr-names.js';
import type { EngineLog } from '../log/logger.js';

/** After a side mount failed to mount, the uncached mount is used this long before trying again. */
const RETRY_MS = 60_000;

export class SideMount {
  private mounting: Promise<AuxMount | null> | null = null;
  private failedAt = 0;
  private made = false;

  constructor(private readonly what: string, private readonly options: () => AuxMountOptions, private readonly volumeId: () => string, private readonly log: EngineLog) {}

  /** Mounted already (get() then costs no mounting; it still checks that the mount answers). */
  get ready(): boolean {
    return this.made && this.mounting !== null;
  }

  /** The mount, answering and of our volume; null: use the uncached mount for now. */
  async get(): Promise<AuxMount | null> {
    if (!this.mounting) {
      if (Date.now() - this.failedAt < RETRY_MS) return null;
      const m = new AuxMount(this.options());
      this.mounting = m.mount().then(async () => {
        // Only the volume the crawl reads: a volume re-created under the same name is not it.
        const mark = decodeVolumeMark(await getXattr(absPath(m.dir, ''), volumeMarkKey()));
        if (mark?.uuid !== this.volumeId()) {
          await m.unmount();
          throw new Error(`the ${this.what} shows volume ${mark?.uuid ?? '(no volume-mark)'}, not ${this.volumeId()}`);
        }
        this.made = true;
        return m;
      }).catch((err: unknown) => {
        this.log.warn({ err: (err as Error).message }, `cannot mount the ${this.what}: using the uncached mount`);
        this.failedAt = Date.now();
        this.mounting = null;
        return null;
      });
    }
    const m = await this.mounting;
    if (!m) return null;
    if (!(await this.answers(m))) return null;
    return m;
  }

  /** Still ours and answering; otherwise it is dropped (and made again on the next get). */
  async answers(m: AuxMount): Promise<boolean> {
    const health = await m.health(5_000);
    if (health === 'ok') return true;
    this.log.warn({ mount: m.mounted ? m.dir : null, health }, `the ${this.what} is not answering: remounting it`);
    if (this.mounting) {
      this.mounting = null;
      this.made = false;
      await m.unmount();
    }
    return false;
  }

  async stop(): Promise<void> {
    const r = this.mounting;
    this.mounting = null;
    this.made = false;
    await (await r?.catch(() => null))?.unmount();
  }
}
