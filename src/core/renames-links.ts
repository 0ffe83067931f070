// Which new names on the master are renames or hard links of objects the slave already holds.
// Pure: the master entry, what the id map knows of its object, and the slave's listing in;
// verdicts out. The engine does the lookups and turns the verdicts into batch decisions.
import { attrsDiffer, dataDiffers, type MasterEntry, type SlaveEntry } from './entry.js';

/**
 * What an old name of this object (known to the id map) says about its new name, given what the
 * master has at the old name now: the object is still there (a directory has one name: nothing
 * to do), still there as a file (the new name is a hard link of it), or gone (moved: a rename).
 */
export type OldNameVerdict = 'still-there' | 'link' | 'rename';

export function oldNameVerdict(m: MasterEntry, atOldName: MasterEntry | null): OldNameVerdict {
  if (atOldName && atOldName.id === m.id) return m.type === 'dir' ? 'still-there' : 'link';
  return 'rename';
}

/**
 * A renamed entry still needs rsync's quick check (~0 bytes when unchanged) unless the slave's
 * copy, as listed in this pass, already matches the master's size, mtime, mode and owner; a
 * directory's contents are visited on their own.
 */
export function renameNeedsData(m: MasterEntry, slaveCopy: SlaveEntry | undefined): boolean {
  if (m.type === 'dir') return false;
  const inSync = m.type === 'file' && slaveCopy?.type === 'file' && !dataDiffers(m, slaveCopy) && !attrsDiffer(m, slaveCopy);
  return !inSync;
}

/**
 * Data written in place keeps a hard link on the slave intact (rsync would otherwise replace
 * the inode). Known link groups count too: a FUSE listing may report a stale link count.
 */
export function sendsInPlace(m: MasterEntry, namesKnown: number): boolean {
  return m.type === 'file' && (m.nlink > 1 || namesKnown > 1);
}

/**
 * A file name whose recorded object (`was`, from the id map) differs from the master's now:
 * another object took the name (a swap, a rename over it). The slave's inode there is the old
 * object's, maybe shared with its other names, so it is never written into: the name is replaced
 * by a rename or link of the new object when that is known elsewhere (`knownElsewhere`: other
 * names in the id map or sent by this batch; asked only when it matters), else by a fresh copy (an editor's save).
 * 'same' = the name still holds its object (ordinary data change).
 */
export type TakenNameVerdict = 'same' | 'replace-by-existing' | 'fresh-copy';

export function takenNameVerdict(m: MasterEntry, was: string | undefined, knownElsewhere: () => boolean): TakenNameVerdict {
  if (m.type !== 'file' || was === undefined || was === m.id) return 'same';
  return knownElsewhere() ? 'replace-by-existing' : 'fresh-copy';
}

/**
 * Linked files of one directory that the slave holds with fewer links than the master (a group
 * split before the id map knew all its names), except names in `handled` (already decided).
 */
export function splitLinkNames(masterList: readonly MasterEntry[], slaveList: readonly SlaveEntry[] | null, handled: ReadonlySet<string>): MasterEntry[] {
  if (!slaveList || !masterList.some((m) => m.type === 'file' && m.nlink > 1)) return [];
  const slaveByName = new Map(slaveList.map((s) => [s.name, s]));
  return masterList.filter((m) => {
    if (m.type !== 'file' || m.nlink <= 1 || handled.has(m.name)) return false;
    const s = slaveByName.get(m.name);
    return s?.type === 'file' && (s.nlink ?? 1) < m.nlink;
  });
}

/** Fewer of a file's names than its master link count are confirmed on the slave. */
export function linkGroupOpen(namesConfirmed: number, nlink: number): boolean {
  return namesConfirmed < nlink;
}

/** How many of these link groups (id → master link count) are not confirmed whole. */
export function openLinkGroups(groups: ReadonlyMap<string, number>, namesConfirmed: (id: string) => number): number {
  let open = 0;
  for (const [id, nlink] of groups) if (linkGroupOpen(namesConfirmed(id), nlink)) open++;
  return open;
}
