// Safety halts: situations where mirroring what we see would destroy the slave's copy.
// Mutagen's lesson: a vanished or emptied source looks exactly like "delete everything".

export type HaltReason = 'root_emptied' | 'root_type_changed' | 'slave_root_changed' | 'mount_missing' | 'mass_delete';
export const haltReasons: readonly HaltReason[] = ['root_emptied', 'root_type_changed', 'slave_root_changed', 'mount_missing', 'mass_delete'];

export const haltExplanation: Record<HaltReason, string> = {
  root_emptied: 'the master root is suddenly empty while the slave still holds data',
  root_type_changed: 'the master root was replaced (another directory, file system or volume id)',
  slave_root_changed: 'the slave root was replaced by another directory or volume',
  mount_missing: 'the master mount is gone or not readable',
  mass_delete: 'more was removed on the master than the deletion limits allow (--max-delete, --max-delete-percent)',
};

/** Halts that survive restarts and clear only by an operator command; mount_missing clears itself. */
export const latchedHalts: readonly HaltReason[] = ['root_emptied', 'root_type_changed', 'slave_root_changed', 'mass_delete'];

/**
 * An empty master root is suspicious only when the slave holds entries that were synced by us:
 * a brand-new session against an empty master is fine.
 */
export function rootEmptiedHalt(masterRootCount: number, slaveRootCount: number, everSynced: boolean): HaltReason | null {
  return masterRootCount === 0 && slaveRootCount > 0 && everSynced ? 'root_emptied' : null;
}
