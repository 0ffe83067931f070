// `gsyncd slave-agent ROOT`: the long-running process of the slave container (OBSERVABILITY §3.4,
// §4, §6, §7). It
//   - prepares sshd: host keys copied from --host-keys (mode 0600: Kubernetes Secret files are
//     symlinks with modes sshd refuses) or a throwaway key kept in the state dir; the
//     authorized_keys copy (plain keys get the forced dispatcher command); an sshd_config —
//     unless --sshd-config names one to use as it is;
//   - runs `sshd -D -e -f CONFIG` as a child, restarts it with backoff when it dies, forwards its
//     stderr lines to the log (info, field `sshd`) and reports gsyncd_slave_sshd_up (1 while the
//     child is alive and answers with an SSH banner on loopback, checked every few seconds);
//   - aggregates the NDJSON session events of `gsyncd --slave` and the dispatcher
//     (agent-events.ts) from a UNIX socket into the slave metrics;
//   - serves /metrics, /livez, /readyz (sshd accepting on loopback, root writable), /healthz,
//     /status on --http-bind;
//   - on SIGTERM/SIGINT: /readyz 503, SIGTERM sshd and its session processes, close the event
//     socket, close HTTP last, exit 0. A second signal aborts (exit 128+n).
//
// The pieces are exported for the unit tests: AgentCore (events → metrics), buildAgentHttp
// (endpoints over any sshd state), renderSshdConfig / forcedAuthorizedKeys (pure), SshdSupervisor.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { describeError, gsyncdError } from '../core/errors.js';
import { restartDelayMs } from '../core/states.js';
import { createLogger, type Logger } from '../log/logger.js';
import { buildHttpServer, check, heartbeatCheck, livenessWindowMs, startHttp, type CheckResult } from '../observe/http.js';
import { unknownSession } from '../observe/labels.js';
import { createMetrics, type SlaveMetrics } from '../observe/metrics.js';
import { isoSeconds, type StatusDoc } from '../observe/status.js';
import { packageVersion } from '../options/package-info.js';
import { defaultAgentSocket, MAX_EVENT_LINE, parseAgentEvent, type AgentEvent } from './agent-events.js';
import { selfGsyncdArgv } from './dispatch.js';

const execFileP = promisify(execFile);

export const SSHD_PATH = '/usr/sbin/sshd';
export const defaultAgentStateDir = '/run/gsyncd/agent';
export const defaultAgentHttpBind = '127.0.0.1:9754';

export const agentUsage = `usage: gsyncd slave-agent ROOT [options]

The slave container's main process: supervises \`sshd -D\`, aggregates the slave sessions'
events and serves the slave's metrics and health.

  --sshd-port N            port sshd listens on (default 22; with --sshd-config: its Port)
  --sshd-config FILE       use this sshd_config as it is (default: write one into the state dir)
  --authorized-keys FILE   keys allowed to log in; plain keys get the forced command
                           "gsyncd --dispatch --root ROOT [--allow-volume VOL]...",restrict
  --host-keys DIR          ssh_host_*_key files to use (copied with mode 0600); default: a
                           throwaway ed25519 key kept in the state dir
  --allow-volume VOL       GlusterFS volume a master may use as slave (repeatable; forced command)
  --http-bind ADDR         HOST:PORT of /metrics /livez /readyz /healthz /status
                           (default $GSYNCD_HTTP_BIND or ${defaultAgentHttpBind})
  --agent-socket PATH      UNIX socket for session events (default $GSYNCD_AGENT_SOCKET or ${defaultAgentSocket})
  --state-dir DIR          generated sshd files (default ${defaultAgentStateDir})
  --sshd-path PATH         sshd program (default ${SSHD_PATH})
  --check-interval SEC     sshd health check period (default 5)
  --log-level LEVEL        trace|debug|info|warn|error|fatal (default $GSYNCD_LOG_LEVEL or info)
`;

export interface AgentOptions {
  readonly root: string;
  readonly sshdPort: number;
  readonly sshdPortExplicit: boolean;
  readonly sshdConfig?: string;
  readonly authorizedKeys?: string;
  readonly hostKeys?: string;
  readonly allowVolumes: readonly string[];
  readonly httpBind: string;
  readonly httpBindExplicit: boolean;
  readonly agentSocket: string;
  readonly stateDir: string;
  readonly sshdPath: string;
  readonly checkIntervalMs: number;
  readonly logLevel: string;
}

const usage = (message: string) => gsyncdError('GSYNCD_ERR_USAGE', `slave-agent: ${message} (see gsyncd slave-agent --help)`);

/** The words after `slave-agent`; 'help' for --help. Throws GSYNCD_ERR_USAGE (exit 64). */
export function parseAgentArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}, cwd = process.cwd()): AgentOptions | 'help' {
  const positionals: string[] = [];
  const allowVolumes: string[] = [];
  const v: Record<string, string> = {};
  const valued = new Set(['--sshd-port', '--sshd-config', '--authorized-keys', '--host-keys', '--http-bind', '--agent-socket', '--state-dir', '--sshd-path', '--check-interval', '--log-level', '--allow-volume']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return 'help';
    if (a === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (!a.startsWith('-') || a === '-') { positionals.push(a); continue; }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (!valued.has(name)) throw usage(`unknown option ${JSON.stringify(name)}`);
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw usage(`${name} needs a value`);
    if (name === '--allow-volume') {
      if (!/^[A-Za-z0-9_.-]{1,128}$/.test(value)) throw usage(`bad volume name ${JSON.stringify(value)}`);
      allowVolumes.push(value);
    } else {
      v[name] = value;
    }
  }
  if (positionals.length !== 1) throw usage(positionals.length === 0 ? 'the slave ROOT directory is required' : 'takes exactly one ROOT');
  const port = (s: string, what: string) => {
    if (!/^\d{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535) throw usage(`${what}: expected a port 1-65535, got ${JSON.stringify(s)}`);
    return Number(s);
  };
  const bind = v['--http-bind'] ?? (env['GSYNCD_HTTP_BIND'] || undefined);
  if (bind !== undefined && !/^(?:\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):\d{1,5}$/.test(bind)) throw usage(`--http-bind: expected HOST:PORT or [IPV6]:PORT, got ${JSON.stringify(bind)}`);
  const interval = v['--check-interval'] ?? '5';
  if (!/^\d{1,4}(?:\.\d{1,3})?$/.test(interval) || Number(interval) < 0.1) throw usage(`--check-interval: expected seconds >= 0.1, got ${JSON.stringify(interval)}`);
  const level = (v['--log-level'] ?? (env['GSYNCD_LOG_LEVEL'] || 'info')).toLowerCase();
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) throw usage(`--log-level: unknown level ${JSON.stringify(level)}`);
  const abs = (p: string) => path.resolve(cwd, p);
  return {
    root: abs(positionals[0]!),
    sshdPort: v['--sshd-port'] === undefined ? 22 : port(v['--sshd-port'], '--sshd-port'),
    sshdPortExplicit: v['--sshd-port'] !== undefined,
    ...(v['--sshd-config'] !== undefined ? { sshdConfig: abs(v['--sshd-config']) } : {}),
    ...(v['--authorized-keys'] !== undefined ? { authorizedKeys: v['--authorized-keys'].includes('%') ? v['--authorized-keys'] : abs(v['--authorized-keys']) } : {}),
    ...(v['--host-keys'] !== undefined ? { hostKeys: abs(v['--host-keys']) } : {}),
    allowVolumes,
    httpBind: bind ?? defaultAgentHttpBind,
    httpBindExplicit: bind !== undefined,
    agentSocket: abs(v['--agent-socket'] ?? (env['GSYNCD_AGENT_SOCKET'] || defaultAgentSocket)),
    stateDir: abs(v['--state-dir'] ?? defaultAgentStateDir),
    sshdPath: v['--sshd-path'] ?? SSHD_PATH,
    checkIntervalMs: Math.round(Number(interval) * 1000),
    logLevel: level,
  };
}

// ─── sshd configuration ─────────────────────────────────────────────────────────────────────

/** A value for sshd_config: double-quoted when it has blanks or quotes. */
function sshdValue(v: string): string {
  return /^[^\s"'#]+$/.test(v) ? v : `"${v.replace(/(["\\])/g, '\\$1')}"`;
}

export interface SshdConfigInput {
  readonly port: number;
  readonly hostKeys: readonly string[];
  readonly pidFile: string;
  /** Absent: sshd's default (.ssh/authorized_keys in each home). */
  readonly authorizedKeysFile?: string;
  readonly usePam: boolean;
  readonly agentSocket: string;
  /** OpenSSH >= 9.8 penalises connections that never authenticate: exempt our own loopback checks. */
  readonly penaltyExempt?: boolean;
}

export function renderSshdConfig(c: SshdConfigInput): string {
  const lines = [
    '# Written by gsyncd slave-agent at every start; pass --sshd-config to use your own.',
    `Port ${c.port}`,
    ...c.hostKeys.map((k) => `HostKey ${sshdValue(k)}`),
    `PidFile ${sshdValue(c.pidFile)}`,
    ...(c.authorizedKeysFile ? [`AuthorizedKeysFile ${sshdValue(c.authorizedKeysFile)}`] : []),
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    // sshd without PAM refuses a locked account ('!' in /etc/shadow); PAM only then
    `UsePAM ${c.usePam ? 'yes' : 'no'}`,
    'PermitUserEnvironment no',
    'PermitTTY no',
    'AllowTcpForwarding no',
    'AllowAgentForwarding no',
    'AllowStreamLocalForwarding no',
    'X11Forwarding no',
    'PermitTunnel no',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'ClientAliveInterval 30',
    'ClientAliveCountMax 4',
    // where `gsyncd --slave` and the dispatcher send their session events
    `SetEnv ${sshdValue(`GSYNCD_AGENT_SOCKET=${c.agentSocket}`)}`,
    ...(c.penaltyExempt ? ['PerSourcePenaltyExemptList 127.0.0.1/32,::1/128'] : []),
    'LogLevel INFO',
  ];
  return lines.join('\n') + '\n';
}

/** A word for the shell sshd runs the forced command with. */
function shellWord(w: string): string {
  return /^[A-Za-z0-9_/.,:=@%+-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

/** `gsyncd --dispatch --root ROOT [--allow-volume VOL]...` as a shell command line. */
export function dispatchCommand(root: string, allowVolumes: readonly string[], self: readonly string[] = selfGsyncdArgv()): string {
  return [...self, '--dispatch', '--root', root, ...allowVolumes.flatMap((v) => ['--allow-volume', v])].map(shellWord).join(' ');
}

const KEY_TYPE = /^(?:ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+)$/;

/** Split the leading options field of an authorized_keys line (commas outside double quotes). */
function splitOptions(line: string): { options: string[]; rest: string } {
  const options: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && quoted && i + 1 < line.length) { cur += c + line[++i]; continue; }
    if (c === '"') { quoted = !quoted; cur += c; continue; }
    if (!quoted && c === ',') { options.push(cur); cur = ''; continue; }
    if (!quoted && (c === ' ' || c === '\t')) { options.push(cur); return { options, rest: line.slice(i + 1).trimStart() }; }
    cur += c;
  }
  options.push(cur);
  return { options, rest: '' };
}

/**
 * authorized_keys as sshd gets it: a plain key gets `command="<forced>",restrict`; a line with
 * options is kept only when it has its own command= (else it would allow a shell), and gets
 * `restrict` when it lacks it. Comments and blank lines are dropped.
 */
export function forcedAuthorizedKeys(text: string, forcedCommand: string): { text: string; keys: number; skipped: number } {
  const out: string[] = [];
  let skipped = 0;
  const forced = `command="${forcedCommand.replace(/(["\\])/g, '\\$1')}",restrict`;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const first = line.split(/\s+/)[0]!;
    if (KEY_TYPE.test(first)) { out.push(`${forced} ${line}`); continue; }
    const { options } = splitOptions(line);
    if (!options.some((o) => o.toLowerCase().startsWith('command='))) { skipped++; continue; }
    out.push(options.some((o) => o.toLowerCase() === 'restrict') ? line : `restrict,${line}`);
  }
  return { text: out.length ? out.join('\n') + '\n' : '', keys: out.length, skipped };
}

/** Root's password field starts with '!': sshd without PAM refuses a locked account. */
function rootAccountLocked(): boolean {
  try {
    const line = fs.readFileSync('/etc/shadow', 'utf8').split('\n').find((l) => l.startsWith('root:'));
    return !!line && line.split(':')[1]!.startsWith('!');
  } catch {
    return false;
  }
}

/** OpenSSH version of `sshd` as [major, minor], or null. */
async function sshdVersion(sshdPath: string): Promise<[number, number] | null> {
  const out = await execFileP(sshdPath, ['-V'], { timeout: 10_000 }).then((r) => r.stdout + r.stderr, (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`);
  const m = /OpenSSH_(\d+)\.(\d+)/.exec(out);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** Write a file atomically with `mode` (temp file + rename), whatever the umask. */
function writeFileMode(file: string, data: string | Buffer, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

const HOST_KEY_NAME = /^ssh_host_[a-z0-9]+_key$/;

/**
 * Host keys for sshd: every ssh_host_*_key of `dir` copied into <stateDir>/host_keys with mode
 * 0600 (readFile follows the symlinks of a Secret volume), checked with ssh-keygen -y; none: the
 * throwaway key in <stateDir>/throwaway, made once.
 */
export async function prepareHostKeys(dir: string | undefined, stateDir: string, log: Logger): Promise<string[]> {
  const dest = path.join(stateDir, 'host_keys');
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(dest, { recursive: true, mode: 0o700 });
  fs.chmodSync(dest, 0o700);
  const keys: string[] = [];
  if (dir !== undefined) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir).filter((n) => HOST_KEY_NAME.test(n)).sort();
    } catch (err) {
      log.warn({ event: 'sshd.host_keys', dir, err }, `cannot read the host key directory: ${describeError(err)}`);
    }
    for (const name of names) {
      const src = path.join(dir, name);
      const file = path.join(dest, name);
      try {
        if (!fs.statSync(src).isFile()) continue;
        writeFileMode(file, fs.readFileSync(src), 0o600);
        const pub = (await execFileP('ssh-keygen', ['-y', '-f', file], { timeout: 10_000 })).stdout.trim();
        writeFileMode(`${file}.pub`, `${pub}\n`, 0o644);
        log.info({ event: 'sshd.host_key', file: src, publicKey: pub.split(' ').slice(0, 2).join(' ') }, 'host key');
        keys.push(file);
      } catch (err) {
        fs.rmSync(file, { force: true });
        log.error({ event: 'sshd.host_key', file: src }, `unusable host key, skipped: ${describeError(err).split('\n')[0]}`);
      }
    }
  }
  if (keys.length > 0) return keys;
  const throwaway = path.join(stateDir, 'throwaway', 'ssh_host_ed25519_key');
  if (!fs.existsSync(throwaway)) {
    fs.mkdirSync(path.dirname(throwaway), { recursive: true, mode: 0o700 });
    await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'gsyncd-slave-throwaway', '-f', throwaway], { timeout: 30_000 });
  }
  fs.chmodSync(throwaway, 0o600);
  const pub = (await execFileP('ssh-keygen', ['-y', '-f', throwaway], { timeout: 10_000 })).stdout.trim();
  log.warn({ event: 'sshd.host_key', file: throwaway, publicKey: pub.split(' ').slice(0, 2).join(' ') },
    `no host key${dir === undefined ? ' configured (--host-keys)' : ` in ${dir}`}: using a throwaway ed25519 key; masters that check known_hosts will refuse it until they trust it`);
  return [throwaway];
}

// ─── sshd supervision ───────────────────────────────────────────────────────────────────────

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
      if (buf.includes('\n') || buf.length > 255) finish(/^SSH-\d/.test(buf));
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

/** A run this long resets the restart backoff. */
const STABLE_RUN_MS = 60_000;

/** Children of `pid` (sshd's per-connection processes), from /proc. */
function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
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
    const own = this.probePorts.some((p) => line.includes(`127.0.0.1 port ${p} `) || line.endsWith(`127.0.0.1 port ${p}`));
    if (own) { this.o.log.trace({ sshd: line }, 'sshd (health check)'); return; }
    this.o.log.info({ sshd: line }, 'sshd');
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, err?: unknown): void {
    const ranMs = this.state.startedAt === null ? 0 : Date.now() - this.state.startedAt;
    this.state.lastExit = { code, signal, at: Date.now() };
    this.state.pid = null;
    this.setUp(false);
    if (this.stopping) return;
    this.consecutive = ranMs >= STABLE_RUN_MS ? 1 : this.consecutive + 1;
    const delay = restartDelayMs(this.consecutive, 1000, 30_000);
    const why = err ? `could not be started: ${describeError(err)}` : signal ? `was killed by ${signal}` : `exited with status ${code}`;
    this.o.log.error({ event: 'sshd.exit', code, signal, restartInMs: delay }, `sshd ${why}; restarting`);
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

// ─── session events → metrics ───────────────────────────────────────────────────────────────

export interface SessionView {
  readonly session: string;
  readonly connected: boolean;
  /** `gsyncd --slave` processes attached for this session. */
  readonly connections: number;
  readonly last_request_at: string | null;
  readonly entry_ops: number;
  readonly rsync_receives: number;
  readonly refusals: number;
}

interface SessionRecord {
  readonly sources: Set<number>;
  lastRequestMs: number | null;
  entryOps: number;
  rsync: number;
  refusals: number;
  initialized: boolean;
}

/** Sessions with series of their own (§3.2 budget: about 37 series each). */
const MAX_SESSIONS = 40;
const MAX_CONNS = 256;

/** The agent's view of the slave sessions, fed by events from numbered sources (socket connections). */
export class AgentCore {
  private readonly sessions = new Map<string, SessionRecord>();
  /** SSH connection ("ip port") → the session that attached on it, to attribute rsync runs and refusals. */
  private readonly conns = new Map<string, string>();
  private warnedFull = false;
  dropped = 0;

  constructor(readonly metrics: SlaveMetrics, private readonly opts: { log?: Logger; maxSessions?: number } = {}) {}

  /**
   * The record of a session, its series created (§3.5) on first use. The `unknown` pseudo-session
   * (refusals before a handshake, rsync runs on a connection without one) gets the full set only
   * when a master without a session name attaches: otherwise its request timestamp would read 0.
   */
  private record(session: string, attach: boolean): SessionRecord | null {
    let r = this.sessions.get(session);
    if (!r) {
      if (session !== unknownSession && [...this.sessions.keys()].filter((s) => s !== unknownSession).length >= (this.opts.maxSessions ?? MAX_SESSIONS)) {
        if (!this.warnedFull) this.opts.log?.warn({ event: 'agent.sessions_full', session }, 'too many slave sessions: events of further sessions are not exported');
        this.warnedFull = true;
        return null;
      }
      r = { sources: new Set(), lastRequestMs: null, entryOps: 0, rsync: 0, refusals: 0, initialized: false };
      this.sessions.set(session, r);
    }
    if (!r.initialized && (attach || session !== unknownSession)) {
      this.metrics.initSession(session);
      r.initialized = true;
    }
    return r;
  }

  handle(ev: AgentEvent, source: number): void {
    let session = ev.session;
    if (session === unknownSession && ev.type !== 'session' && 'conn' in ev && ev.conn !== undefined) session = this.conns.get(ev.conn) ?? session;
    const r = this.record(session, ev.type === 'session' || ev.type === 'request');
    if (!r) { this.dropped++; return; }
    const m = this.metrics;
    switch (ev.type) {
      case 'session':
        if (ev.connected) {
          r.sources.add(source);
          if (ev.conn !== undefined) {
            this.conns.delete(ev.conn);
            this.conns.set(ev.conn, session);
            if (this.conns.size > MAX_CONNS) this.conns.delete(this.conns.keys().next().value!);
          }
        } else {
          r.sources.delete(source);
        }
        m.sessionConnected.set({ session }, r.sources.size > 0 ? 1 : 0);
        this.opts.log?.info({ event: 'agent.session', session, connected: ev.connected, connections: r.sources.size }, ev.connected ? 'master session attached' : 'master session detached');
        return;
      case 'request':
        if (r.lastRequestMs === null || ev.at > r.lastRequestMs) {
          r.lastRequestMs = ev.at;
          m.lastRequest.set({ session }, ev.at / 1000);
        }
        return;
      case 'entry_ops':
        r.entryOps += ev.n;
        m.entryOps.inc({ session, op: ev.op, result: ev.result }, ev.n);
        return;
      case 'rsync':
        r.rsync++;
        m.rsyncReceives.inc({ session, result: ev.result });
        return;
      case 'refusal':
        r.refusals++;
        m.refusals.inc({ session, reason: ev.reason });
        this.opts.log?.warn({ event: 'agent.refusal', session, reason: ev.reason }, 'a request to the slave was refused');
        return;
    }
  }

  /** A source went away (a `gsyncd --slave` process ended or crashed): its sessions are detached. */
  sourceClosed(source: number): void {
    for (const [session, r] of this.sessions) {
      if (!r.sources.delete(source)) continue;
      this.metrics.sessionConnected.set({ session }, r.sources.size > 0 ? 1 : 0);
      if (r.sources.size === 0) this.opts.log?.info({ event: 'agent.session', session, connected: false, connections: 0 }, 'master session detached');
    }
  }

  views(): SessionView[] {
    return [...this.sessions].map(([session, r]) => ({
      session, connected: r.sources.size > 0, connections: r.sources.size, last_request_at: isoSeconds(r.lastRequestMs),
      entry_ops: r.entryOps, rsync_receives: r.rsync, refusals: r.refusals,
    }));
  }
}

export interface AgentSocket {
  readonly path: string;
  /** Stop listening, drop the session connections, remove the socket file. */
  close(): Promise<void>;
}

/**
 * Listen for events on a UNIX socket (mode 0666: sessions run as the login user). A stale socket
 * file is replaced; one another agent still answers on is an error.
 */
export async function listenAgentSocket(core: AgentCore, socketPath: string, log?: Logger): Promise<AgentSocket> {
  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o755 });
  const st = fs.lstatSync(socketPath, { throwIfNoEntry: false });
  if (st) {
    if (!st.isSocket()) throw gsyncdError('GSYNCD_ERR_CONFIG', `--agent-socket ${socketPath} exists and is not a socket`);
    const inUse = await new Promise<boolean>((resolve) => {
      const c = net.createConnection(socketPath, () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (inUse) throw gsyncdError('GSYNCD_ERR_CONFIG', `another slave agent is listening on ${socketPath}`);
    fs.rmSync(socketPath, { force: true });
  }
  let nextSource = 1;
  const open = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    const source = nextSource++;
    open.add(sock);
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() === '') continue;
        let ev: AgentEvent | null = null;
        try { ev = parseAgentEvent(JSON.parse(line)); } catch { ev = null; }
        if (ev) {
          try { core.handle(ev, source); } catch (err) { log?.warn({ event: 'agent.event_failed', err }, 'session event failed'); }
        } else {
          core.dropped++;
          log?.debug({ event: 'agent.bad_event', length: line.length }, 'dropped an unknown or malformed session event');
        }
      }
      if (buf.length > MAX_EVENT_LINE) {
        log?.warn({ event: 'agent.bad_event' }, 'session event line too long: closing that connection');
        sock.destroy();
      }
    });
    sock.on('error', () => { /* a session going away */ });
    sock.on('close', () => { open.delete(sock); core.sourceClosed(source); });
  });
  server.maxConnections = 4096;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => { server.off('error', reject); resolve(); });
  });
  fs.chmodSync(socketPath, 0o666);
  server.on('error', (err) => log?.error({ event: 'agent.socket_error', err }, 'event socket error'));
  return {
    path: socketPath,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of open) s.destroy();
      fs.rmSync(socketPath, { force: true });
    }),
  };
}

// ─── HTTP ───────────────────────────────────────────────────────────────────────────────────

/** /status of the slave agent (its own shape: `gsyncd status` reads master documents only). */
export interface SlaveStatusDoc {
  readonly role: 'slave';
  readonly version: string;
  readonly checked_at: string;
  readonly root: string;
  readonly ready: boolean;
  readonly checks: readonly CheckResult[];
  readonly sshd: {
    readonly up: boolean; readonly running: boolean; readonly pid: number | null; readonly port: number; readonly restarts: number;
    readonly started_at: string | null; readonly last_exit: { readonly code: number | null; readonly signal: string | null; readonly at: string | null } | null;
  };
  readonly root_writable: boolean;
  readonly root_free_bytes: number | null;
  readonly sessions: readonly SessionView[];
}

/** Whether the root exists, is a directory and is writable; the reason is a stable code. */
export async function checkRoot(root: string): Promise<CheckResult> {
  try {
    const st = await fs.promises.stat(root);
    if (!st.isDirectory()) return check('root', false, 'root_not_a_directory');
    await fs.promises.access(root, fs.constants.W_OK);
    return check('root', true);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return check('root', false, code === 'ENOENT' ? 'root_missing' : code === 'EROFS' ? 'root_read_only' : 'root_not_writable');
  }
}

export interface AgentHttpState {
  readonly sshd: () => SshdState;
  readonly stopping: () => boolean;
  readonly lastBeat: () => number;
}

export function buildAgentHttp(core: AgentCore, state: AgentHttpState, opts: { root: string; version: string; logger?: Logger; now?: () => number }): FastifyInstance {
  const now = opts.now ?? Date.now;
  const live = () => [heartbeatCheck('supervisor', state.lastBeat(), livenessWindowMs(0), now())];
  const ready = async () => {
    const s = state.sshd();
    return [
      check('sshd', s.up, s.running ? 'not_accepting' : 'not_running'),
      await checkRoot(opts.root),
      check('shutdown', !state.stopping(), 'shutting_down'),
    ];
  };
  const status = async (): Promise<SlaveStatusDoc> => {
    const s = state.sshd();
    const checks = [...live(), ...(await ready())];
    const free = await fs.promises.statfs(opts.root).then((st) => Number(st.bavail) * Number(st.bsize), () => null);
    return {
      role: 'slave', version: opts.version, checked_at: isoSeconds(now()) ?? '', root: opts.root,
      ready: checks.every((c) => c.ok), checks,
      sshd: {
        up: s.up, running: s.running, pid: s.pid, port: s.port, restarts: s.restarts, started_at: isoSeconds(s.startedAt),
        last_exit: s.lastExit ? { code: s.lastExit.code, signal: s.lastExit.signal, at: isoSeconds(s.lastExit.at) } : null,
      },
      root_writable: checks.find((c) => c.name === 'root')?.ok ?? false,
      root_free_bytes: free,
      sessions: core.views(),
    };
  };
  return buildHttpServer({
    registry: core.metrics.registry, role: 'slave', ...(opts.logger ? { logger: opts.logger } : {}),
    // http.ts types /status as the master's StatusDoc; the slave agent serves its own document.
    status: status as unknown as () => Promise<StatusDoc>,
    checks: { live, ready },
  });
}

// ─── the process ────────────────────────────────────────────────────────────────────────────

interface PreparedSshd {
  readonly configFile: string;
  readonly port: number;
  /** Re-copy authorized_keys when its source changed (a Secret update); no-op without one. */
  readonly refreshKeys: () => void;
}

async function prepareSshd(o: AgentOptions, log: Logger): Promise<PreparedSshd> {
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation directory
  fs.mkdirSync(o.stateDir, { recursive: true, mode: 0o755 });
  if (o.sshdConfig !== undefined) {
    let port = o.sshdPort;
    if (!o.sshdPortExplicit) {
      const t = await execFileP(o.sshdPath, ['-T', '-f', o.sshdConfig], { timeout: 15_000 }).then((r) => r.stdout, () => '');
      port = Number(/^port (\d+)$/m.exec(t)?.[1] ?? 22);
    }
    return { configFile: o.sshdConfig, port, refreshKeys: () => {} };
  }
  const hostKeys = await prepareHostKeys(o.hostKeys, o.stateDir, log);
  let refreshKeys = () => {};
  let authorizedKeysFile: string | undefined;
  if (o.authorizedKeys !== undefined && o.authorizedKeys.includes('%')) {
    authorizedKeysFile = o.authorizedKeys; // a per-user pattern: used as it is
  } else if (o.authorizedKeys !== undefined) {
    const src = o.authorizedKeys;
    const dest = path.join(o.stateDir, 'authorized_keys');
    const forced = dispatchCommand(o.root, o.allowVolumes);
    let last: string | null = null;
    refreshKeys = () => {
      let text: string;
      try {
        text = fs.readFileSync(src, 'utf8');
      } catch (err) {
        if (last !== '') log.error({ event: 'sshd.authorized_keys', file: src }, `cannot read authorized keys: ${describeError(err)}`);
        text = '';
      }
      if (text === last) return;
      const first = last === null;
      last = text;
      const out = forcedAuthorizedKeys(text, forced);
      writeFileMode(dest, out.text, 0o644);
      if (out.skipped) log.warn({ event: 'sshd.authorized_keys', file: src, skipped: out.skipped }, 'authorized_keys: skipped lines with options but no command="..." (they would allow a shell)');
      log.info({ event: 'sshd.authorized_keys', file: src, keys: out.keys, forcedCommand: forced }, first ? 'authorized keys' : 'authorized keys changed');
    };
    refreshKeys();
    authorizedKeysFile = dest;
  }
  const version = await sshdVersion(o.sshdPath);
  const configFile = path.join(o.stateDir, 'sshd_config');
  writeFileMode(configFile, renderSshdConfig({
    port: o.sshdPort, hostKeys, pidFile: path.join(o.stateDir, 'sshd.pid'),
    ...(authorizedKeysFile !== undefined ? { authorizedKeysFile } : {}),
    usePam: rootAccountLocked(), agentSocket: o.agentSocket,
    penaltyExempt: version !== null && (version[0] > 9 || (version[0] === 9 && version[1] >= 8)),
  }), 0o644);
  return { configFile, port: o.sshdPort, refreshKeys };
}

/** `gsyncd slave-agent …`: resolves to the exit status once stopped by a signal. */
export async function runSlaveAgent(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: { stdout: (t: string) => void }): Promise<number> {
  const o = parseAgentArgs(argv, env);
  if (o === 'help') { io.stdout(agentUsage); return 0; }
  const version = packageVersion();
  const log = createLogger({ level: o.logLevel, base: { role: 'slave', version } });
  log.info({ event: 'agent.start', root: o.root, sshdPort: o.sshdPortExplicit || !o.sshdConfig ? o.sshdPort : undefined, sshdConfig: o.sshdConfig, agentSocket: o.agentSocket, httpBind: o.httpBind }, 'slave agent starting');

  let sshd: PreparedSshd | undefined;
  try {
    sshd = await prepareSshd(o, log);
    await execFileP(o.sshdPath, ['-t', '-f', sshd.configFile], { timeout: 15_000 });
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || describeError(err);
    throw gsyncdError('GSYNCD_ERR_CONFIG', `cannot prepare sshd (${sshd?.configFile ?? o.stateDir}): ${detail}`, err);
  }
  const prepared = sshd;
  if (!(await checkRoot(o.root)).ok) log.warn({ event: 'agent.root', root: o.root }, 'the slave root is missing or not writable: not ready until it is');

  const metrics = createMetrics('slave', { slaveRoot: o.root, version, log });
  const core = new AgentCore(metrics, { log });
  const supervisor = new SshdSupervisor({
    sshdPath: o.sshdPath, configFile: prepared.configFile, port: prepared.port, log, checkIntervalMs: o.checkIntervalMs,
    onUp: (up) => metrics.sshdUp.set(up ? 1 : 0),
  });
  let stopping = false;
  let lastBeat = Date.now();
  const beat = setInterval(() => { lastBeat = Date.now(); }, 1000);
  const keys = setInterval(() => { try { prepared.refreshKeys(); } catch (err) { log.warn({ err }, 'authorized keys refresh failed'); } }, Math.max(1000, o.checkIntervalMs));
  const app = buildAgentHttp(core, { sshd: () => supervisor.current, stopping: () => stopping, lastBeat: () => lastBeat }, { root: o.root, version, logger: log });

  let events: AgentSocket | undefined;
  try {
    events = await listenAgentSocket(core, o.agentSocket, log);
    let address: string | null;
    try {
      address = await startHttp(app, { bind: o.httpBind, explicit: o.httpBindExplicit, log });
    } catch (err) {
      throw gsyncdError('GSYNCD_ERR_SLAVE_UNAVAILABLE', `cannot listen on --http-bind ${o.httpBind}`, err);
    }
    if (address) log.info({ event: 'http.listening', address }, 'http endpoints listening');
  } catch (err) {
    clearInterval(beat);
    clearInterval(keys);
    await events?.close();
    await app.close().catch(() => {});
    throw err;
  }

  supervisor.start();
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      if (!stopping) { stopping = true; resolve(sig); return; }
      log.fatal({ event: 'shutdown.abort', signal: sig }, 'second signal: aborting');
      process.exit(128 + (os.constants.signals[sig] ?? 0));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });

  log.info({ event: 'shutdown.begin', signal }, 'stopping: sshd, then the event socket, then HTTP');
  await supervisor.stop();
  await events.close();
  clearInterval(beat);
  clearInterval(keys);
  await app.close();
  log.info({ event: 'shutdown.done' }, 'slave agent stopped');
  log.flush();
  return 0;
}
