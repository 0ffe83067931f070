// A GlusterFS volume as a slave on this host: a LocalSlave whose root is an aux mount
// (`--client-pid=-1`: writes pass the read-only translator a geo-rep secondary carries, and
// do not move the slave volume's own xtime). Closing the slave unmounts it.
//
// Two things differ from a plain directory, both handled here:
// - On a `--client-pid=-1` mount the FUSE bridge silently drops setxattr of trusted.* keys other
//   than `*.glusterfs.*.xtime`, `*.glusterfs.volume-mark*`, POSIX ACLs and a few internals
//   (the call succeeds, nothing is stored). gsyncd's own mark `trusted.gsyncd.<uuid>.xtime`
//   would vanish, so it is stored as `trusted.glusterfs.<master-uuid>.xtime`, the key the
//   original gsyncd used for its slave marks.
// - st_dev of a FUSE mount is new on every mount, so the root identity is the volume id.
import type { BytePath } from '../core/bytepath.js';
import type { EntryOp } from '../core/ops.js';
import { auxMountOptions, splitParams, type GlusterMountConfig } from '../gluster/mount-options.js';
import { AuxMount } from '../gluster/mount.js';
import { startedVolumeInfo } from '../gluster/volume.js';
import { glusterSlaveMarkKey } from '../gluster/xattr-names.js';
import type { EngineLog } from '../log/logger.js';
import type { SlaveIdentity } from '../protocol/endpoint.js';
import { LocalSlave } from './endpoint.js';

export interface GlusterSlaveOptions extends GlusterMountConfig {
  readonly log?: EngineLog;
}

export class GlusterSlave extends LocalSlave {
  constructor(
    private readonly mount: AuxMount,
    readonly volumeId: string,
    description: string,
  ) {
    super(mount.dir, description, () => mount.unmount());
  }

  /** The aux mount (for health checks). */
  get auxMount(): AuxMount {
    return this.mount;
  }

  override async identity(): Promise<SlaveIdentity> {
    const id = await super.identity();
    return { ...id, rootDev: `gluster:${this.volumeId}`, fsType: 'fuse.glusterfs' };
  }

  override list(dir: BytePath, markKey: string) {
    return super.list(dir, glusterSlaveMarkKey(markKey));
  }

  override readMark(dir: BytePath, markKey: string) {
    return super.readMark(dir, glusterSlaveMarkKey(markKey));
  }

  override apply(ops: EntryOp[], markKey: string) {
    return super.apply(ops, glusterSlaveMarkKey(markKey));
  }
}

/**
 * Kernel caching of entries and attributes on the slave's aux mount (1 s, the FUSE default),
 * unless gluster-params sets them. The master's mount caches nothing (other clients write
 * there, see MOUNT_DEFAULTS); on the slave gsyncd is the only writer and every change it makes
 * (entry ops, rsync) goes through this one mount, which keeps its own cache coherent. Without
 * it, every path component of every operation is a LOOKUP round trip to the brick (measured:
 * 14 per small file rsync creates, 43 % of the slave brick's time).
 */
const SLAVE_MOUNT_CACHE = ['attribute-timeout=1', 'entry-timeout=1', 'negative-timeout=1'];

export function slaveMountParams(user: string | readonly string[] | undefined): string[] {
  const given = splitParams(user);
  const keys = new Set(given.map((p) => p.split('=')[0]));
  return [...SLAVE_MOUNT_CACHE.filter((p) => !keys.has(`--${p.split('=')[0]}`)), ...given.map((p) => p.slice(2))];
}

export async function openGlusterSlave(opts: GlusterSlaveOptions): Promise<GlusterSlave> {
  const info = await startedVolumeInfo(opts);
  const mount = new AuxMount(auxMountOptions({ ...opts, glusterParams: slaveMountParams(opts.glusterParams) }, opts.log));
  await mount.mount();
  opts.log?.info({ host: opts.host, volume: opts.volume, volumeId: info.uuid, mount: mount.dir }, 'gluster slave mounted');
  return new GlusterSlave(mount, info.uuid, `gluster slave ${opts.host}::${opts.volume}`);
}
