// Process measurements from /proc: CPU time (utime+stime, plus cutime+cstime of reaped children),
// RSS, process discovery by command line, and syscall counts with strace -c.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime + cutime + cstime, in clock ticks */
  ticks: number;
  cmdline: string[];
}

function parseStat(text: string): { ppid: number; comm: string; ticks: number } | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const comm = text.slice(text.indexOf('(') + 1, close);
  const f = text.slice(close + 2).split(' ');
  // f[0] = state (field 3); utime = field 14 -> f[11]
  const n = (i: number) => Number(f[i] ?? 0);
  return { ppid: n(1), comm, ticks: n(11) + n(12) + n(13) + n(14) };
}

export function procInfo(pid: number): ProcInfo | null {
  try {
    const s = parseStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    if (!s) return null;
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return { pid, ...s, cmdline };
  } catch {
    return null;
  }
}

export function allProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const p = procInfo(Number(e));
    if (p) out.push(p);
  }
  return out;
}

/** `roots` and all their descendants (from one /proc scan). */
export function withDescendants(roots: readonly number[], procs: readonly ProcInfo[] = allProcs()): number[] {
  const kids = new Map<number, number[]>();
  for (const p of procs) {
    let k = kids.get(p.ppid);
    if (!k) kids.set(p.ppid, (k = []));
    k.push(p.pid);
  }
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const p = stack.pop()!;
    if (seen.has(p)) continue;
    seen.add(p);
    stack.push(...(kids.get(p) ?? []));
  }
  return [...seen].filter((p) => procs.some((x) => x.pid === p));
}

/** pids of glusterfs client processes that are aux (gsyncd-style) mounts of `volume`. */
export function auxMountPids(volume: string, procs: readonly ProcInfo[] = allProcs()): number[] {
  return procs
    .filter((p) => p.comm === 'glusterfs' && p.cmdline.includes('--aux-gfid-mount') && p.cmdline.some((a) => a === `--volfile-id=${volume}`))
    .map((p) => p.pid);
}

export function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export function cpuTicks(pids: readonly number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const pid of pids) {
    const p = procInfo(pid);
    if (p) m.set(pid, p.ticks);
  }
  return m;
}

/** CPU seconds used by `pids` over `seconds`: per pid (present at both ends; children they reaped
 *  in between count through cutime/cstime). */
export async function cpuOver(pids: readonly number[], seconds: number, signal?: AbortSignal): Promise<{ perPid: Map<number, number>; wallSeconds: number }> {
  const t0 = performance.now();
  const before = cpuTicks(pids);
  await sleep(seconds * 1000, undefined, { signal });
  const after = cpuTicks([...before.keys()]);
  const wall = (performance.now() - t0) / 1000;
  const perPid = new Map<number, number>();
  for (const [pid, t] of after) perPid.set(pid, (t - (before.get(pid) ?? t)) / CLK_TCK);
  return { perPid, wallSeconds: wall };
}

const PAGE_KB = (() => {
  try {
    return Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) / 1024 || 4;
  } catch {
    return 4;
  }
})();

/**
 * Resident memory of a group of processes with every physical page counted once (KiB): the
 * union of the page frames their mappings have resident, from /proc/PID/pagemap (root only; 0
 * otherwise). Summed RSS counts a page shared by n of them n times: the node binary's ~43 MB of
 * file pages in each Node process, the libraries of every rsync. Only mappings with a resident
 * part (smaps `Rss:` > 0) are read, so V8's large reservations cost nothing.
 */
export function residentOnceKb(pids: readonly number[]): number {
  const frames = new Set<number>();
  for (const pid of pids) {
    let smaps: string;
    let fd: number;
    try {
      smaps = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8');
      fd = fs.openSync(`/proc/${pid}/pagemap`, 'r');
    } catch {
      continue; // gone
    }
    try {
      let range: [number, number] | null = null;
      for (const line of smaps.split('\n')) {
        const dash = line.indexOf('-');
        const space = line.indexOf(' ');
        if (dash > 0 && space > dash && /^[0-9a-f]+$/.test(line.slice(0, dash))) {
          range = [parseInt(line.slice(0, dash), 16), parseInt(line.slice(dash + 1, space), 16)];
          continue;
        }
        if (!range || !line.startsWith('Rss:') || / 0 kB$/.test(line)) continue;
        const first = range[0] / (PAGE_KB * 1024);
        const pages = (range[1] - range[0]) / (PAGE_KB * 1024);
        const buf = Buffer.alloc(pages * 8);
        const got = fs.readSync(fd, buf, 0, buf.length, first * 8);
        for (let i = 0; i + 8 <= got; i += 8) {
          const high = buf.readUInt32LE(i + 4);
          if (!(high & 0x80000000)) continue; // not present
          const pfn = (high & 0x7fffff) * 2 ** 32 + buf.readUInt32LE(i);
          if (pfn !== 0) frames.add(pfn); // 0: frame numbers hidden (not root)
        }
        range = null;
      }
    } catch {
      // the process exited while being read
    } finally {
      fs.closeSync(fd);
    }
  }
  return frames.size * PAGE_KB;
}

export interface RssSample {
  t: number;
  /** summed over the processes */
  kb: number;
  /** the largest single process */
  maxKb: number;
  /** every physical page once (residentOnceKb); 0 when not taken in this sample */
  onceKb: number;
}

/**
 * Samples the summed RSS of getPids() every intervalMs until stop(), and the shared-once figure
 * every onceEveryMs (reading page maps costs the bench ~40–80 ms of CPU, which the peer would
 * otherwise share its cores with twice a second).
 */
export class RssSampler {
  readonly samples: RssSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastOnce = 0;
  constructor(private readonly getPids: () => number[], private readonly intervalMs = 500, private readonly onceEveryMs = 2000) {}
  start(): this {
    const tick = () => {
      try {
        const pids = this.getPids();
        const each = pids.map(rssKb);
        const now = Date.now();
        const takeOnce = pids.length > 0 && now - this.lastOnce >= this.onceEveryMs;
        if (takeOnce) this.lastOnce = now;
        this.samples.push({ t: now, kb: each.reduce((a, b) => a + b, 0), maxKb: Math.max(0, ...each), onceKb: takeOnce ? residentOnceKb(pids) : 0 });
      } catch {
        // process vanished mid-scan
      }
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    return this;
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
  peakKb(from = 0, to = Infinity): number {
    return this.samples.filter((s) => s.t >= from && s.t <= to).reduce((m, s) => Math.max(m, s.kb), 0);
  }
  /** Peak of the group's resident memory with shared pages counted once. */
  peakOnceKb(): number {
    return this.samples.reduce((m, s) => Math.max(m, s.onceKb), 0);
  }
  /** Peak RSS of the largest single process. */
  peakProcKb(): number {
    return this.samples.reduce((m, s) => Math.max(m, s.maxKb), 0);
  }
}

export function haveStrace(): boolean {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface StraceCounts {
  getxattr: number;
  total: number;
  bySyscall: Record<string, number>;
  wallSeconds: number;
}

/** Attach strace -c to every thread of `pids` (following new ones) for `seconds`; syscall counts. */
export async function straceCounts(pids: readonly number[], seconds: number, outFile: string, signal?: AbortSignal): Promise<StraceCounts> {
  const tids = pids.flatMap((p) => {
    try {
      return fs.readdirSync(`/proc/${p}/task`).map(Number);
    } catch {
      return [];
    }
  });
  if (!tids.length) throw new Error('no threads to trace');
  const args = ['-f', '-c', '-qq', '-o', outFile, ...tids.flatMap((t) => ['-p', String(t)])];
  const child = spawn('strace', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  await sleep(1000); // attach
  const t0 = performance.now();
  try {
    await sleep(seconds * 1000, undefined, { signal });
  } finally {
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
  const wall = (performance.now() - t0) / 1000;
  const text = fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : '';
  const bySyscall: Record<string, number> = {};
  let total = 0;
  for (const line of text.split('\n')) {
    // % time     seconds  usecs/call     calls    errors syscall
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\S+)\s*$/.exec(line);
    if (!m) continue;
    if (m[2] === 'total') total = Number(m[1]);
    else bySyscall[m[2]!] = Number(m[1]);
  }
  if (!text.includes('total') && !Object.keys(bySyscall).length && stderr.trim()) throw new Error(`strace: ${stderr.trim().slice(0, 300)}`);
  if (!total) total = Object.values(bySyscall).reduce((a, b) => a + b, 0);
  const getxattr = (bySyscall['getxattr'] ?? 0) + (bySyscall['lgetxattr'] ?? 0) + (bySyscall['fgetxattr'] ?? 0);
  return { getxattr, total, bySyscall, wallSeconds: wall };
}

/**
 * A byte counter of /proc/PID/io: `wchar`, what the process passed to write()-family calls,
 * sockets included (a brick's replies: ~200 B per file for a listing with stats, measured here);
 * `write_bytes`, what it caused to be written to storage (data re-sent shows up there only).
 */
export function ioBytesOf(pid: number, counter: 'wchar' | 'write_bytes'): number {
  try {
    const m = new RegExp(`^${counter}:\\s+(\\d+)`, 'm').exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
