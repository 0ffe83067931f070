// Which directories this process's inotify instances really watch, read from /proc/self/fdinfo.
// @parcel/watcher fails silently when it cannot watch a new directory (watch limit reached) and
// never watches the subdirectories of a tree moved in from outside; the tree tracker uses this
// to notice such gaps instead of trusting that an event will come.
import fs from 'node:fs';

/** Identity of a watched directory as fdinfo shows it: `major:minor:inode(hex)`. */
export function watchKeyOfStat(dev: bigint, ino: bigint): string {
  // glibc's major()/minor() of a userspace dev_t.
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}:${ino.toString(16)}`;
}

/** fdinfo prints the in-kernel dev_t: major << 20 | minor. */
export function watchKeyOfFdinfo(sdevHex: string, inoHex: string): string {
  const sdev = BigInt(`0x${sdevHex}`);
  return `${sdev >> 20n}:${sdev & 0xfffffn}:${BigInt(`0x${inoHex}`).toString(16)}`;
}

const watchLine = /^inotify wd:[0-9a-f]+ ino:([0-9a-f]+) sdev:([0-9a-f]+)/gm;

/** Parse the watch lines of one inotify fdinfo text into `into`. */
export function parseInotifyFdinfo(text: string, into: Set<string>): void {
  for (const m of text.matchAll(watchLine)) into.add(watchKeyOfFdinfo(m[2]!, m[1]!));
}

/**
 * Keys (see watchKeyOfStat) of every inode watched by any inotify instance of this process, or
 * null when /proc does not tell (not Linux, no procfs, hidepid...).
 */
export async function inotifyWatchedKeys(): Promise<Set<string> | null> {
  let fds: string[];
  try {
    fds = await fs.promises.readdir('/proc/self/fd');
  } catch {
    return null;
  }
  const out = new Set<string>();
  let instances = 0;
  for (const fd of fds) {
    let target: string;
    try {
      target = await fs.promises.readlink(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (or the readdir fd itself)
    }
    if (target !== 'anon_inode:inotify') continue;
    try {
      parseInotifyFdinfo(await fs.promises.readFile(`/proc/self/fdinfo/${fd}`, 'utf8'), out);
      instances++;
    } catch {
      continue;
    }
  }
  return instances > 0 ? out : null;
}

/** /proc/sys/fs/inotify/max_queued_events, or null. */
export function inotifyMaxQueuedEvents(): number | null {
  try {
    const n = Number(fs.readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8').trim());
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}
