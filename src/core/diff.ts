// Compare one directory's master listing with the slave's and decide what must happen.
// Pure: listings in, decisions out. The crawler resolves renames/links and orders the ops.
import { joinRel, type BytePath } from './bytepath.js';
import { attrsDiffer, dataDiffers, type MasterEntry, type SlaveEntry } from './entry.js';
import { URXTIME, xtimeNewer, type Xtime } from './xtime.js';

export interface DirDiff {
  readonly dir: BytePath;
  /** Master entries missing on the slave (or of another type there): mkdir, rename, link or send. */
  readonly missing: MasterEntry[];
  /** Slave entries the master no longer has under that name (or has with another type). */
  readonly extra: SlaveEntry[];
  /** Non-directories present on both sides whose data or attributes differ. */
  readonly changed: MasterEntry[];
  /** Names in `changed` whose size and mtime agree with the slave's: only attributes, xattrs or ACLs differ. */
  readonly sameData: ReadonlySet<BytePath>;
  /** Directories present on both sides whose own attributes differ. */
  readonly dirAttrs: MasterEntry[];
  /** Subdirectories (present on both sides) to visit: master xtime newer than their slave mark. */
  readonly descend: { entry: MasterEntry; stime: Xtime }[];
  /** Subdirectories whose slave mark is newer than the master's xtime: reported, then resynced. */
  readonly markAhead: MasterEntry[];
  /** Entries scanned, for progress. */
  readonly scanned: number;
}

function sameKind(m: MasterEntry, s: SlaveEntry): boolean {
  if (m.type !== s.type) return false;
  return m.type !== 'symlink' || m.target === s.target;
}

/**
 * `slave` null means the slave has no such directory yet (everything is missing).
 * A subdirectory without a master xtime (plain directories are always tracked, so this only
 * happens on a gluster volume whose marker has not stamped it yet) is visited to be safe.
 * `since`: the directory's stime (what its slave mark says was synced). An entry whose change
 * time is newer changed after that even if size, times, mode and owner agree (an extended
 * attribute or ACL): it is sent again, which rsync turns into an attribute update.
 * `descendAll`: visit every subdirectory the slave has too, marked or not (a verification pass).
 */
export function diffDirectory(dir: BytePath, master: MasterEntry[], slave: SlaveEntry[] | null, since: Xtime | null = null, descendAll = false): DirDiff {
  // Never synced (no mark): nothing to be newer than; the comparison above decides alone.
  const changedSince = (m: MasterEntry) => since !== null && since.sec >= 0 && m.ctimeNs !== undefined && ctimeAfter(m.ctimeNs, since);
  const slaveByName = new Map<BytePath, SlaveEntry>();
  for (const s of slave ?? []) slaveByName.set(s.name, s);
  const missing: MasterEntry[] = [];
  const changed: MasterEntry[] = [];
  const sameData = new Set<BytePath>();
  const dirAttrs: MasterEntry[] = [];
  const descend: { entry: MasterEntry; stime: Xtime }[] = [];
  const markAhead: MasterEntry[] = [];
  const matched = new Set<BytePath>();
  for (const m of master) {
    const s = slaveByName.get(m.name);
    if (!s || !sameKind(m, s)) {
      missing.push(m);
      continue;
    }
    matched.add(m.name);
    if (m.type === 'dir') {
      if (attrsDiffer(m, s) || dataDiffersForDir(m, s) || changedSince(m)) dirAttrs.push(m);
      const stime = s.mark ?? URXTIME;
      if (m.xtime && xtimeNewer(stime, m.xtime)) {
        markAhead.push(m);
        descend.push({ entry: m, stime: URXTIME });
      } else if (descendAll || !m.xtime || xtimeNewer(m.xtime, stime)) {
        descend.push({ entry: m, stime });
      }
    } else if (dataDiffers(m, s) || attrsDiffer(m, s) || (m.type !== 'symlink' && changedSince(m))) {
      changed.push(m);
      if (!dataDiffers(m, s)) sameData.add(m.name);
    }
  }
  const extra = (slave ?? []).filter((s) => !matched.has(s.name));
  return { dir, missing, extra, changed, sameData, dirAttrs, descend, markAhead, scanned: master.length };
}

/** ctime (ns) strictly after an xtime (s, µs): compared at µs, the xtime's resolution. */
export function ctimeAfter(ctimeNs: bigint, x: Xtime): boolean {
  return ctimeNs / 1000n > BigInt(x.sec) * 1_000_000n + BigInt(x.usec);
}

function dataDiffersForDir(m: MasterEntry, s: SlaveEntry): boolean {
  return m.mtimeSec !== s.mtimeSec || m.mtimeNsec !== s.mtimeNsec;
}

export function childPath(d: DirDiff, name: BytePath): BytePath {
  return joinRel(d.dir, name);
}
