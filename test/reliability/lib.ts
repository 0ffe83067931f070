// Shared helpers of the reliability tests (test/reliability/*.test.ts) and the soak run
// (test/soak/soak.ts): a remote-slave session across two network namespaces, process-tree
// lookups for fault injection, the monitor's /status, and convergence waits.
import fs from 'node:fs';
import path from 'node:path';
import { compareTrees, type CompareOptions } from '../support/compare.js';
import { GSYNCD_BIN, logLines, startGsyncd, type RunningGsyncd } from '../support/gsyncd.js';
import { twoHosts, type TwoHosts } from '../support/netns.js';
import { type CleanupStack, freePort, sleep, tmpDir, waitFor } from '../support/proc.js';

export { logLines };

// ─── processes ────────────────────────────────────────────────────────────────────────────

export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  /** argv joined with spaces. */
  cmdline: string;
  /** Inode of /proc/PID/ns/net (which network namespace it runs in). */
  netns: number | undefined;
}

function procInfo(pid: number): ProcInfo | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    if (fields[0] === 'Z') return null; // a zombie is as good as gone
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    let netns: number | undefined;
    try { netns = fs.statSync(`/proc/${pid}/ns/net`).ino; } catch { netns = undefined; }
    return { pid, ppid: Number(fields[1]), comm: stat.slice(stat.indexOf('(') + 1, close), cmdline, netns };
  } catch {
    return null;
  }
}

/** Every live (non-zombie) process now. */
export function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const p = procInfo(Number(d));
    if (p) out.push(p);
  }
  return out;
}

/** Descendants of `pid` (children first, breadth-first). */
export function descendants(pid: number, all: ProcInfo[] = processes()): ProcInfo[] {
  const out: ProcInfo[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    for (const c of all) if (c.ppid === p) { out.push(c); queue.push(c.pid); }
  }
  return out;
}

export function alive(pid: number): boolean {
  return procInfo(pid) !== null;
}

export function kill9(pid: number): boolean {
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

export async function waitGone(pids: number[], what: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(() => pids.every((p) => !alive(p)), { what, timeoutMs, intervalMs: 50 });
}

// ─── state file and /status ───────────────────────────────────────────────────────────────

export interface StateDoc {
  workerState?: string;
  crawlState?: string;
  syncedUpTo?: number;
  rootStime?: string;
  initialSyncCompleted?: boolean;
  restarts?: number;
  lastError?: { message: string; at: string };
  halt?: { reason: string; since: string; detail: string };
  pid?: number;
  [k: string]: unknown;
}

/** The session's state.json; null when absent. Throws when it exists but is not JSON (torn). */
export function readStateFile(file: string): StateDoc | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    return JSON.parse(text) as StateDoc;
  } catch (err) {
    throw new Error(`state file ${file} is not valid JSON (torn write?): ${JSON.stringify(text.slice(0, 200))}`, { cause: err });
  }
}

export interface StatusReply {
  verdict: string;
  reasons: { code: string; message: string }[];
  sessions: { halt: { reason: string } | null; lag_seconds: number | null; workers: { state: string; crawl: string; restarts: number; last_error: { message: string } | null }[] }[];
}

/** GET /status of a monitor (null when it does not answer). */
export async function getStatus(base: string): Promise<StatusReply | null> {
  try {
    const res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) return null;
    return (await res.json()) as StatusReply;
  } catch {
    return null;
  }
}

export async function getProbe(base: string, probe: 'readyz' | 'livez' | 'healthz'): Promise<number | null> {
  try {
    const res = await fetch(`${base}/${probe}?verbose`, { signal: AbortSignal.timeout(3000) });
    await res.text();
    return res.status;
  } catch {
    return null;
  }
}

// ─── trees ───────────────────────────────────────────────────────────────────────────────────

/** Wait until the trees are identical (compareTrees); the error lists what still differs. */
export async function converge(master: string, slave: string, what: string, timeoutMs: number, opts: CompareOptions = {}): Promise<number> {
  const t0 = Date.now();
  let last: string[] = [];
  try {
    await waitFor(() => { last = compareTrees(master, slave, opts); return last.length === 0; }, { what, timeoutMs, intervalMs: 500 });
  } catch (err) {
    throw new Error(`${(err as Error).message}\nremaining differences (${last.length}):\n  ${last.slice(0, 30).join('\n  ')}`, { cause: err });
  }
  return Date.now() - t0;
}

/** Relative paths of every entry below root, with type and inode (ASCII workloads). */
export function snapshot(root: string, ignoreRoot: string[] = []): Map<string, { type: string; ino: bigint; size: bigint; mtimeNs: bigint }> {
  const out = new Map<string, { type: string; ino: bigint; size: bigint; mtimeNs: bigint }>();
  const walk = (rel: string) => {
    const abs = rel ? path.join(root, rel) : root;
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      if (!rel && ignoreRoot.includes(e.name)) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      const st = fs.lstatSync(path.join(root, r), { bigint: true });
      out.set(r, { type: e.isDirectory() ? 'dir' : e.isSymbolicLink() ? 'symlink' : e.isFile() ? 'file' : 'other', ino: st.ino, size: st.size, mtimeNs: st.mtimeNs });
      if (e.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

// ─── a remote-slave session across two namespaces ─────────────────────────────────────────

export interface RemoteSession {
  hosts: TwoHosts;
  masterDir: string;
  slaveDir: string;
  stateDir: string;
  session: string;
  stateFile: string;
  slaveUrl: string;
  /** --ssh-identity/--ssh-known-hosts */
  sshArgs: string[];
  /** http://A:port of the monitor's --http-bind. */
  httpBase: string;
  httpBind: string;
  /** Every gsyncd master process started, for log collection. */
  runs: RunningGsyncd[];
  /** Start a continuous session (monitor) in namespace A. */
  start(extra?: string[]): RunningGsyncd;
  /** All master output so far (every run). */
  output(): string;
}

/**
 * Namespaces A (master) and B (slave behind sshd with the forced-command dispatcher confined to
 * slaveDir), a master directory, state dir. Plain directories live on the shared mount namespace,
 * so the test reads both trees directly.
 */
export async function remoteSession(block: number, stack: CleanupStack, opts: { masterDir?: string; session?: string } = {}): Promise<RemoteSession> {
  const hosts = await twoHosts(block, { cleanup: stack });
  const slaveDir = await tmpDir('rel-slave', stack);
  const masterDir = opts.masterDir ?? (await tmpDir('rel-master', stack));
  const stateDir = await tmpDir('rel-state', stack);
  const session = opts.session ?? `rel${block}`;
  await hosts.sshd.setAuthorizedKey(`command="${process.execPath} ${GSYNCD_BIN} --dispatch --root ${slaveDir}",restrict ${hosts.sshd.clientKeyPub}`);
  const port = await freePort('127.0.0.1'); // any free number: the namespace's own port space is empty
  const httpBind = `${hosts.a.ip}:${port}`;
  const runs: RunningGsyncd[] = [];
  const s: RemoteSession = {
    hosts, masterDir, slaveDir, stateDir, session,
    stateFile: path.join(stateDir, session, 'state.json'),
    slaveUrl: `ssh://root@${hosts.b.ip}:${hosts.sshd.port}:${slaveDir}`,
    sshArgs: ['--ssh-identity', hosts.sshd.clientKeyPath, '--ssh-known-hosts', hosts.sshd.knownHostsFile],
    httpBase: `http://${httpBind}`,
    httpBind,
    runs,
    start(extra: string[] = []) {
      const r = startGsyncd(['--state-dir', stateDir, '--session-name', session, '--http-bind', httpBind, ...s.sshArgs, ...extra, masterDir, s.slaveUrl], {}, hosts.a.execPrefix);
      runs.push(r);
      stack.defer(`stop gsyncd pid ${r.child.pid}`, () => stopRun(r));
      return r;
    },
    output: () => runs.map((r) => r.output()).join('\n'),
  };
  // Whatever a killed monitor left behind (workers, rsyncs) in A, and slave processes in B, are
  // ended by the namespaces' teardown (by pid).
  return s;
}

/**
 * Stop a gsyncd run: SIGTERM, and after `graceMs` SIGKILL for it and every descendant.
 * Resolves to whether it ended by itself in time.
 */
export async function stopRun(r: RunningGsyncd, graceMs = 5000): Promise<boolean> {
  const pid = r.child.pid!;
  if (r.child.exitCode !== null || r.child.signalCode !== null) return true;
  const tree = [pid, ...descendants(pid).map((p) => p.pid)];
  r.child.kill('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && tree.some(alive)) await sleep(100);
  const graceful = !tree.some(alive);
  for (const p of [...descendants(pid).map((x) => x.pid), ...tree]) kill9(p);
  await r.stop();
  return graceful;
}

/** The monitor's worker (its node child marked GSYNCD_ROLE=worker), or null. */
export function workerOf(monitorPid: number, all: ProcInfo[] = processes()): ProcInfo | null {
  return all.find((p) => p.ppid === monitorPid && p.comm.startsWith('node')) ?? null;
}

/** `gsyncd --slave` processes serving `slaveDir` (under the dispatcher in namespace B). */
export function slaveProcesses(slaveDir: string, all: ProcInfo[] = processes()): ProcInfo[] {
  return all.filter((p) => p.cmdline.includes(GSYNCD_BIN) && / --slave /.test(` ${p.cmdline} `) && p.cmdline.endsWith(slaveDir));
}

/** rsync clients under a worker (not the rsh bridge). */
export function rsyncsOf(workerPid: number, all: ProcInfo[] = processes()): ProcInfo[] {
  return descendants(workerPid, all).filter((p) => p.comm === 'rsync');
}

/** A uniformly random integer in [lo, hi]. */
export function randInt(rng: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/** mulberry32: a small seeded PRNG, so a failing run can be repeated with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seedFromEnv(name = 'GSYNCD_TEST_SEED'): number {
  const v = process.env[name];
  return v ? Number(v) >>> 0 : (Date.now() ^ (process.pid << 8)) >>> 0;
}

export { sleep };
