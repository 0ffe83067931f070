// Which of a batch's data items go by tar streams and which by rsync runs (--sync-method):
// pure, so the rule is unit-tested apart from both tools.
import type { DataItem } from './plan.js';

export type SyncMethod = 'rsync' | 'tar' | 'auto';

/** auto: a file this small costs rsync more in round trips than in bytes. */
export const AUTO_TAR_MAX_SIZE = 256 * 1024;
/** auto: below this many small files per batch, rsync's start-up is not worth saving. */
export const AUTO_TAR_MIN_FILES = 32;

/**
 * Split `items` by method. In-place items (writes that keep the slave's hard links) always go by
 * rsync --inplace: tar replaces the name. So do items whose content the slave most likely has
 * (attribute changes, renames): rsync's quick check sends their attributes, tar the whole file.
 * Fifos, sockets and devices too: tar only sends regular files and symlinks here. Directory
 * attributes never come here (syncDirAttrs).
 */
export function chooseSyncMethod(items: readonly DataItem[], method: SyncMethod): { tar: DataItem[]; rsync: DataItem[] } {
  if (method === 'rsync') return { tar: [], rsync: [...items] };
  const fits = (i: DataItem) => !i.inplace && !i.sameData && !i.special && (method === 'tar' || i.size <= AUTO_TAR_MAX_SIZE);
  const tar = items.filter(fits);
  if (method === 'auto' && tar.length < AUTO_TAR_MIN_FILES) return { tar: [], rsync: [...items] };
  return { tar, rsync: items.filter((i) => !fits(i)) };
}
