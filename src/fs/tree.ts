// Listing a directory as byte-named entries with full-precision stats, without following symlinks.
import fs from 'node:fs';
import path from 'node:path';
import { fromBytes, pathBytes, type BytePath } from '../core/bytepath.js';
import { entryTypeOfMode, hasHoles, modeBits, type EntryStat } from '../core/entry.js';

export interface RawStat extends EntryStat {
  readonly ino: bigint;
  readonly dev: bigint;
  readonly nlink: number;
  readonly ctimeNs: bigint;
}

/** Absolute Buffer path of a relative byte path under a root. */
export function absPath(root: string, rel: BytePath): Buffer {
  return rel === '' ? Buffer.from(root) : Buffer.concat([Buffer.from(root.endsWith('/') ? root : root + '/'), pathBytes(rel)]);
}

export async function lstatEntry(root: string, rel: BytePath, name: BytePath): Promise<RawStat | null> {
  const p = absPath(root, rel);
  try {
    const st = await fs.promises.lstat(p, { bigint: true });
    const type = entryTypeOfMode(Number(st.mode));
    const target = type === 'symlink' ? fromBytes(await fs.promises.readlink(p, { encoding: 'buffer' })) : undefined;
    return {
      name, type, mode: modeBits(Number(st.mode)), uid: Number(st.uid), gid: Number(st.gid),
      size: type === 'dir' ? 0 : Number(st.size),
      mtimeSec: Number(st.mtimeNs / 1_000_000_000n), mtimeNsec: Number(st.mtimeNs % 1_000_000_000n),
      target, ino: st.ino, dev: st.dev, nlink: Number(st.nlink), ctimeNs: st.ctimeNs,
      ...(hasHoles(type, Number(st.size), Number(st.blocks)) ? { sparse: true as const } : {}),
    };
  } catch (err) {
    // ENOTDIR: an ancestor became a file meanwhile; either way nothing is there.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

/**
 * Names a listing's readdir returned whose lstat then found nothing (renamed or deleted while the
 * directory was being listed), keyed by the listing array. A name here changed after the
 * listing began, so after any xtime read before it: a later pass sees that change.
 */
const vanishedByListing = new WeakMap<object, ReadonlySet<BytePath>>();

export function vanishedNames(listing: object): ReadonlySet<BytePath> | undefined {
  return vanishedByListing.get(listing);
}

/** Carry the vanished names of `from` over to a listing derived from it. */
export function copyVanished(from: object, to: object): void {
  const v = vanishedByListing.get(from);
  if (v) vanishedByListing.set(to, v);
}

/** Entries of `rel` (a directory below root); null when it does not exist or is not a directory. */
export async function listDir(root: string, rel: BytePath, skip?: (name: BytePath) => boolean): Promise<RawStat[] | null> {
  let names: Buffer[];
  try {
    names = await fs.promises.readdir(absPath(root, rel), { encoding: 'buffer' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
  const out: RawStat[] = [];
  const vanished = new Set<BytePath>();
  // Bounded parallelism: lstat is cheap locally but slow on FUSE; a few in flight hide latency.
  const queue = names.map(fromBytes).filter((n) => !skip?.(n));
  const width = 16;
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, queue.length) }, async () => {
    while (next < queue.length) {
      const name = queue[next++]!;
      const st = await lstatEntry(root, rel === '' ? name : `${rel}/${name}`, name);
      if (st) out.push(st); // vanished between readdir and lstat: a later change will show it
      else vanished.add(name);
    }
  }));
  if (vanished.size > 0) vanishedByListing.set(out, vanished);
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

export function joinRoot(root: string, ...parts: string[]): string {
  return path.join(root, ...parts);
}

/**
 * Whether a directory has at least one entry (other than `skip`): reads only until the first
 * one, so it is a cheap sanity check, not a listing. A missing directory has none.
 */
export async function hasEntries(dir: string, skip: (name: string) => boolean = () => false): Promise<boolean> {
  let d: fs.Dir;
  try {
    d = await fs.promises.opendir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  try {
    for (let e = await d.read(); e; e = await d.read()) if (!skip(e.name)) return true;
    return false;
  } finally {
    await d.close();
  }
}
