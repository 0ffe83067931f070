// Names of the extended attributes GlusterFS and gsyncd keep: the marker's xtime and
// volume-mark on a master, gsyncd's per-directory marks on a slave.
import type { Xtime } from '../core/xtime.js';
import { markNamespace } from '../fs/xattr.js';

/** The volume-mark the marker serves on the root: who the volume is and whether it is sane. */
export interface VolumeMark {
  readonly version: [number, number];
  readonly uuid: string;
  /** Non-zero: the volume is not valid ("corrupt") for geo-replication. */
  readonly retval: number;
  /** When indexing was switched on. */
  readonly time: Xtime;
}

/** xattr namespace of GlusterFS' own keys: trusted.* as root, system.* otherwise. */
export function glusterNamespace(): string {
  return process.getuid?.() === 0 ? 'trusted' : 'system';
}

export function xtimeKey(volumeUuid: string): string {
  return `${glusterNamespace()}.glusterfs.${volumeUuid}.xtime`;
}

export function volumeMarkKey(): string {
  return `${glusterNamespace()}.glusterfs.volume-mark`;
}

/** 2×u8 version, 16 bytes uuid, u8 retval, 2×u32 (BE) time; null when the value is not that. */
export function decodeVolumeMark(b: Buffer | null): VolumeMark | null {
  if (!b || b.length < 27) return null;
  const hex = b.subarray(2, 18).toString('hex');
  const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { version: [b[0]!, b[1]!], uuid, retval: b[18]!, time: { sec: b.readUInt32BE(19), usec: b.readUInt32BE(23) } };
}

/** Name of the per-directory mark on a slave for a master volume id. */
export function slaveMarkKey(masterVolumeId: string): string {
  return `${markNamespace()}.gsyncd.${masterVolumeId}.xtime`;
}

/** gsyncd's slave mark key → the key a gsyncd-pid mount stores (`<ns>.glusterfs.<id>.xtime`). */
export function glusterSlaveMarkKey(markKey: string): string {
  const m = /^(?:trusted|system|user)\.gsyncd\.(.+)\.xtime$/.exec(markKey);
  return m ? `${glusterNamespace()}.glusterfs.${m[1]}.xtime` : markKey;
}
