// The files beside an aux mount dir (the client's pid file, the owner's pid) and what they are
// for: telling our glusterfs client from a reused pid, and reaping mounts whose worker died.
import fs from 'node:fs';
import path from 'node:path';
import { pidAlive } from '../session/pid.js';
import { runCli } from './volume.js';

export const DIR_PREFIX = 'gsyncd-aux-mount-';

/** glusterfs processes whose command line names `dir` (ours: the directory is private to us). */
export function clientsOf(dir: string): number[] {
  let pids: string[];
  try { pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)); } catch { return []; }
  return pids.map(Number).filter((pid) => isGlusterfsClient(pid, dir));
}

export function ownerFileOf(dir: string): string {
  return `${dir}.owner`;
}

/**
 * Unmount aux mounts left by workers that died without cleaning up (kill -9): ours by name,
 * with an owner file naming a process that no longer exists. Their glusterfs clients go with
 * the lazy unmount; the directories and files are removed.
 */
export async function reapOrphanedMounts(base: string, log?: { warn(obj: object, msg: string): void }): Promise<void> {
  let names: string[];
  try {
    names = await fs.promises.readdir(base);
  } catch {
    return;
  }
  const mounted = new Set(fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]));
  for (const name of names) {
    if (!name.startsWith(DIR_PREFIX) || !name.endsWith('.owner')) continue;
    const dir = path.join(base, name.slice(0, -'.owner'.length));
    const owner = Number(fs.readFileSync(path.join(base, name), 'utf8').trim());
    if (!Number.isInteger(owner) || owner <= 0 || pidAlive(owner)) continue;
    if (mounted.has(dir)) {
      log?.warn({ mount: dir, owner }, 'unmounting an aux mount left by a worker that died');
      await runCli('umount', ['-l', dir], 10_000).catch(() => null);
    }
    let clientPid = NaN;
    try { clientPid = Number(fs.readFileSync(pidFileOf(dir), 'utf8').trim()); } catch { /* no pid file */ }
    if (Number.isInteger(clientPid) && clientPid > 0 && isGlusterfsClient(clientPid, dir)) {
      try { process.kill(clientPid, 'SIGTERM'); } catch { /* already gone */ }
    }
    for (const f of [pidFileOf(dir), ownerFileOf(dir)]) fs.rmSync(f, { force: true });
    await fs.promises.rmdir(dir).catch(() => null);
  }
}

/** The glusterfs client serving `dir` (never kill a reused pid of something else). */
export function isGlusterfsClient(pid: number, dir: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dir);
  } catch {
    return false;
  }
}

export function pidFileOf(dir: string): string {
  return `${dir}.pid`;
}

export function readPid(dir: string): number | null {
  try {
    const n = Number(fs.readFileSync(pidFileOf(dir), 'utf8').trim());
    return Number.isInteger(n) && n > 1 ? n : null;
  } catch {
    return null;
  }
}

export function removeLeftovers(dir: string): void {
  try { fs.rmSync(pidFileOf(dir), { force: true }); fs.rmSync(ownerFileOf(dir), { force: true }); } catch { /* best effort */ }
  try { fs.rmdirSync(dir); } catch { /* still busy or already gone: nothing more to do */ }
}
