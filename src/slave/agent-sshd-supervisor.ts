// Runs `sshd -D -e -f CONFIG` as a child: restarts it with backoff when it dies, forwards its
// stderr lines to the log (info, field `sshd`), and tells whether it is up (the child alive and
// answering with an SSH banner on loopback, checked every few seconds). The decisions are in
// agent-sshd-restart.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
import type { Logger } from '../log/logger.js';
import { describeSshdExit, isHealthCheckLine, nextRestart, parseProcChildren, sshBannerVerdict, statIsAlive } from './agent-sshd-restart.js';

/**
 * Connect to host:port, wait for the SSH identification line, answer with ours and close: true
 * when sshd answered. (Answering keeps sshd's log to one "Connection closed by … port P
 * [preauth]" line, which the supervisor recognises by P and leaves out of the log.)
 */
export function probeSsh(host: string, port: number, timeoutMs: number, onLocalPort?: (p: number) => void): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    let buf = '';
    const s = net.createConnection({ host, port });
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (ok) {
        try { s.end('SSH-2.0-gsyncd_agent_check\r\n'); } catch { /* gone */ }
        setTimeout(() => s.destroy(), 1000).unref();
      } else {
        s.destroy();
      }
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    s.on('connect', () => { if (s.localPort) onLocalPort?.(s.localPort); });
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const verdict = sshBannerVerdict(buf);
      if (verdict !== null) finish(verdict);
    });
    s.on('error', () => finish(false));
    s.on('close', () => finish(false));
  });
}

export interface SshdState {
  readonly up: boolean;
  readonly running: boolean;
  readonly pid: number | null;
  readonly port: number;
  readonly restarts: number;
  readonly startedAt: number | null;
  readonly lastExit: { readonly code: number | null; readonly signal: string | null; readonly at: number } | null;
}

export interface SshdSupervisorOptions {
  readonly sshdPath: string;
  readonly configFile: string;
  readonly port: number;
  readonly log: Logger;
  /** Health check period while sshd is up (ms); while it is not, every 500 ms. */
  readonly checkIntervalMs: number;
  readonly onUp?: (up: boolean) => void;
}

/** Children of `pid` (sshd's per-connection processes), from /proc. */
function childrenOf(pid: number): number[] {
  try {
    return parseProcChildren(fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8'));
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    return statIsAlive(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function terminate(pids: readonly number[], graceMs: number): Promise<void> {
  for (const p of pids) { try { process.kill(p, 'SIGTERM'); } catch { /* gone */ } }
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const p of pids.filter(alive)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
}

export class SshdSupervisor {
  private child: ChildProcess | null = null;
  private childExited: Promise<void> = Promise.resolve();
  private stopping = false;
  private consecutive = 0;
  private checkTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly probePorts: number[] = [];
  private state: { up: boolean; pid: number | null; restarts: number; startedAt: number | null; lastExit: SshdState['lastExit']; spawned: number } =
    { up: false, pid: null, restarts: 0, startedAt: null, lastExit: null, spawned: 0 };

  constructor(private readonly o: SshdSupervisorOptions) {}

  get current(): SshdState {
    const s = this.state;
    return { up: s.up, running: this.child !== null, pid: s.pid, port: this.o.port, restarts: s.restarts, startedAt: s.startedAt, lastExit: s.lastExit };
  }

  start(): void {
    this.stopping = false;
    this.spawnOnce();
  }

  private setUp(up: boolean): void {
    if (up === this.state.up) return;
    this.state.up = up;
    this.o.log[up ? 'info' : 'warn']({ event: 'sshd.state', up, pid: this.state.pid, port: this.o.port }, up ? 'sshd is accepting connections' : 'sshd is not accepting connections');
    try { this.o.onUp?.(up); } catch { /* never */ }
  }

  private spawnOnce(): void {
    if (this.stopping) return;
    const argv = ['-D', '-e', '-f', this.o.configFile];
    let child: ChildProcess;
    try {
      child = spawn(this.o.sshdPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      this.onExit(null, null, err);
      return;
    }
    this.child = child;
    this.state.spawned++;
    if (this.state.spawned > 1) this.state.restarts++;
    this.state.pid = child.pid ?? null;
    this.state.startedAt = Date.now();
    this.o.log.info({ event: 'sshd.start', pid: child.pid, argv: [this.o.sshdPath, ...argv], restarts: this.state.restarts }, 'starting sshd');
    readline.createInterface({ input: child.stderr!, crlfDelay: Infinity }).on('line', (line) => this.onLine(line));
    let resolveExited!: () => void;
    this.childExited = new Promise((r) => { resolveExited = r; });
    let ended = false;
    const end = (code: number | null, signal: NodeJS.Signals | null, err?: unknown) => {
      if (ended) return;
      ended = true;
      if (this.child === child) this.child = null;
      resolveExited();
      this.onExit(code, signal, err);
    };
    child.once('error', (err) => end(null, null, err));
    child.once('exit', (code, signal) => end(code, signal));
    this.scheduleCheck(200);
  }

  private onLine(line: string): void {
    if (isHealthCheckLine(line, this.probePorts)) { this.o.log.trace({ sshd: line }, 'sshd (health check)'); return; }
    this.o.log.info({ sshd: line }, 'sshd');
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, err?: unknown): void {
    const ranMs = this.state.startedAt === null ? 0 : Date.now() - this.state.startedAt;
    this.state.lastExit = { code, signal, at: Date.now() };
    this.state.pid = null;
    this.setUp(false);
    if (this.stopping) return;
    const next = nextRestart(this.consecutive, ranMs);
    this.consecutive = next.consecutive;
    const delay = next.delayMs;
    this.o.log.error({ event: 'sshd.exit', code, signal, restartInMs: delay }, `sshd ${describeSshdExit(code, signal, err)}; restarting`);
    if (this.checkTimer) clearTimeout(this.checkTimer);
    this.restartTimer = setTimeout(() => this.spawnOnce(), delay);
  }

  private scheduleCheck(ms: number): void {
    if (this.checkTimer) clearTimeout(this.checkTimer);
    this.checkTimer = setTimeout(() => void this.check(), ms);
  }

  /** One health check: the child alive and an SSH banner on loopback. */
  async check(): Promise<boolean> {
    const child = this.child;
    let ok = false;
    if (child && !this.stopping) {
      ok = await probeSsh('127.0.0.1', this.o.port, 3000, (p) => {
        this.probePorts.push(p);
        if (this.probePorts.length > 16) this.probePorts.shift();
      });
      ok = ok && this.child === child;
    }
    if (!this.stopping) {
      this.setUp(ok);
      if (this.child) this.scheduleCheck(ok ? this.o.checkIntervalMs : 500);
    }
    return ok;
  }

  /** SIGTERM sshd, then its session processes (SIGKILL after graceMs each); no restart. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.checkTimer) clearTimeout(this.checkTimer);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const pid = this.child?.pid;
    if (pid !== undefined) {
      const sessions = childrenOf(pid);
      this.o.log.info({ event: 'sshd.stop', pid, sessions: sessions.length }, 'stopping sshd');
      await terminate([pid], graceMs);
      await Promise.race([this.childExited, new Promise((r) => setTimeout(r, 1000))]);
      if (sessions.length) await terminate(sessions, graceMs);
    }
    this.setUp(false);
  }
}