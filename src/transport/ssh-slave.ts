// A slave on another host: one ssh2 connection per session carries the slave's RPC (an exec
// channel running `gsyncd --slave`) and every rsync (through the rsh bridge). A broken
// connection is re-established on the next call; the worker's pass retry provides the backoff,
// and nothing of a pass that lost its connection is marked synced.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BytePath } from '../core/bytepath.js';
import type { SlaveEntry } from '../core/entry.js';
import { gsyncdError, isGsyncdError } from '../core/errors.js';
import type { EntryOp, OpResult } from '../core/ops.js';
import type { Xtime } from '../core/xtime.js';
import type { Logger } from '../log/logger.js';
import type { SlaveStartReason, SshConnectResult } from '../protocol/connect.js';
import type { RsyncTarget, SlaveEndpoint, SlaveIdentity } from '../protocol/endpoint.js';
import { normalizeUrl, type SshUrl } from '../url/url.js';
import { RemoteSlave } from './remote-slave.js';
import { execOn, RshServer } from './rsh-server.js';
import { slaveStartProblem } from './slave-start.js';
import { SshConnection } from './ssh.js';

export interface SshSlaveConfig {
  readonly url: SshUrl;
  readonly port: number;
  readonly user: string;
  readonly identityFile: string;
  readonly knownHostsFile: string;
  readonly acceptNewHostKey: boolean;
  /** Command that starts gsyncd on the slave host (split on whitespace). */
  readonly remoteGsyncd: string;
  /** Explicit OpenSSH client command instead of ssh2 (for users who need ~/.ssh/config). */
  readonly sshCommand: string | null;
  readonly timeoutSec: number;
  readonly connectionTimeoutSec: number;
  readonly session: string;
  readonly log: Logger;
  readonly onConnected?: (up: boolean) => void;
  readonly onConnectAttempt?: (result: SshConnectResult) => void;
}

/** The command line run on the slave host; the original's form (`gsyncd … --slave … URL`). */
export function remoteSlaveCommand(cfg: Pick<SshSlaveConfig, 'remoteGsyncd' | 'timeoutSec' | 'url'>): string {
  return [...cfg.remoteGsyncd.split(/\s+/).filter(Boolean), '--slave', '--timeout', String(cfg.timeoutSec), normalizeUrl(cfg.url.inner)].join(' ');
}

interface Live {
  readonly slave: RemoteSlave;
  close(): Promise<void>;
}

export class SshSlave implements SlaveEndpoint {
  readonly description: string;
  private live: Live | null = null;
  private connecting: Promise<Live> | null = null;

  private constructor(private readonly cfg: SshSlaveConfig) {
    this.description = normalizeUrl(cfg.url);
  }

  /** Connect now, so a refused host key or bad credentials fail the start (exit 69). */
  static async open(cfg: SshSlaveConfig): Promise<SshSlave> {
    const s = new SshSlave(cfg);
    await s.ensure();
    return s;
  }

  private async ensure(): Promise<RemoteSlave> {
    if (this.live) return this.live.slave;
    this.connecting ??= this.connect().finally(() => { this.connecting = null; });
    this.live = await this.connecting;
    return this.live.slave;
  }

  private async connect(): Promise<Live> {
    const { cfg } = this;
    const command = remoteSlaveCommand(cfg);
    try {
      const live = cfg.sshCommand ? await this.connectOpenSsh(command) : await this.connectSsh2(command);
      cfg.onConnectAttempt?.('ok');
      cfg.onConnected?.(true);
      void live.slave.closed.then((reason) => {
        cfg.log.warn({ slave: this.description, reason }, 'slave connection closed');
        if (this.live === live) this.live = null;
        cfg.onConnected?.(false);
        void live.close();
      });
      return live;
    } catch (err) {
      cfg.onConnectAttempt?.(classify(err));
      throw err;
    }
  }

  private async connectSsh2(command: string): Promise<Live> {
    const { cfg } = this;
    const conn = await SshConnection.connect({
      host: cfg.url.host, port: cfg.port, username: cfg.user,
      identityFile: cfg.identityFile || undefined, knownHostsFile: cfg.knownHostsFile || undefined,
      acceptNewHostKey: cfg.acceptNewHostKey,
      readyTimeoutMs: cfg.connectionTimeoutSec * 1000,
      keepaliveIntervalMs: cfg.timeoutSec > 0 ? Math.max(5000, (cfg.timeoutSec * 1000) / 4) : 0,
    }, cfg.log);
    let rsh: RshServer | null = null;
    // rsync and tar run inside the session where the slave can (one exec per session, not per run).
    let inBand: RemoteSlave | null = null;
    const exec = execOn(() => conn);
    try {
      rsh = await RshServer.start(async (argv) => {
        const session = inBand?.runsInBand(argv[0]!) === true;
        cfg.log.debug({ command: argv[0], via: session ? 'session' : 'exec' }, `${argv[0]} runs on the slave ${session ? 'inside the session' : 'in an exec channel'}`);
        return session ? inBand!.runInBand(argv) : exec(argv);
      }, cfg.log);
      const channel = await conn.exec(command);
      const start = new StartWatch(command, this.where());
      channel.stderr.on('data', (d: Buffer) => {
        start.stderr(d);
        cfg.log.warn({ slave: this.description, stderr: d.toString('utf8').trimEnd().slice(0, 2000) }, 'slave stderr');
      });
      channel.once('exit', (code: number | null) => start.exited(typeof code === 'number' ? code : null));
      channel.once('close', () => start.exited(null));
      const bridge = rsh;
      const release = async () => { channel.close(); await bridge.close(); conn.close(); };
      const slave = await RemoteSlave.connect({ readable: channel, writable: channel }, {
        timeoutSec: cfg.timeoutSec, description: this.description, session: cfg.session, log: cfg.log,
        rsync: (target) => ({ ...rsyncTargetVia(cfg.url.host, target, bridge.rshCommand()), unprivileged: cfg.user !== 'root' }), release,
      }).catch((err: unknown) => start.explain(err));
      inBand = slave;
      conn.onClose(() => { void slave.close(); });
      return { slave, close: () => slave.close() };
    } catch (err) {
      await rsh?.close();
      conn.close();
      throw err;
    }
  }

  /** OpenSSH with a control master, so rsync's ssh reuses the same connection. */
  private async connectOpenSsh(command: string): Promise<Live> {
    const { cfg } = this;
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gsyncd-ssh-'));
    const base = [...cfg.sshCommand!.split(/\s+/).filter(Boolean), '-p', String(cfg.port), '-oControlMaster=auto', `-oControlPath=${dir}/cm`, '-oBatchMode=yes',
      ...(cfg.identityFile ? ['-i', cfg.identityFile] : []), ...(cfg.knownHostsFile ? [`-oUserKnownHostsFile=${cfg.knownHostsFile}`] : [])];
    const dest = `${cfg.user}@${cfg.url.host}`;
    const child: ChildProcess = spawn(base[0]!, [...base.slice(1), dest, command], { stdio: ['pipe', 'pipe', 'pipe'] });
    // ssh exits with the remote command's status (255: its own failure).
    const start = new StartWatch(command, this.where());
    child.once('exit', (code) => start.exited(code));
    child.once('error', () => start.exited(null));
    child.stderr!.on('data', (d: Buffer) => {
      start.stderr(d);
      cfg.log.warn({ slave: this.description, stderr: d.toString('utf8').trimEnd().slice(0, 2000) }, 'ssh stderr');
    });
    const release = async () => {
      child.kill('SIGTERM');
      await fs.promises.rm(dir, { recursive: true, force: true });
    };
    const slave = await RemoteSlave.connect({ readable: child.stdout!, writable: child.stdin! }, {
      timeoutSec: cfg.timeoutSec, description: this.description, session: cfg.session, log: cfg.log, release,
      rsync: (target) => ({ dest: `${dest}:${target}`, rsh: base.join(' '), unprivileged: cfg.user !== 'root' }),
    }).catch((err: unknown) => start.explain(err));
    return { slave, close: () => slave.close() };
  }

  /** The slave host as the user named it, for messages. */
  private where(): string {
    const { cfg } = this;
    return `${cfg.user}@${cfg.url.host}${cfg.port === 22 ? '' : `:${cfg.port}`}`;
  }

  private async call<T>(fn: (s: RemoteSlave) => Promise<T>): Promise<T> {
    const s = await this.ensure();
    return fn(s);
  }

  identity(): Promise<SlaveIdentity> { return this.call((s) => s.identity()); }
  list(dir: BytePath, markKey: string): Promise<SlaveEntry[] | null> { return this.call((s) => s.list(dir, markKey)); }
  readMark(dir: BytePath, markKey: string): Promise<Xtime | null> { return this.call((s) => s.readMark(dir, markKey)); }
  apply(ops: EntryOp[], markKey: string): Promise<OpResult[]> { return this.call((s) => s.apply(ops, markKey)); }

  rsyncTarget(): RsyncTarget {
    if (!this.live) throw gsyncdError('GSYNCD_ERR_SLAVE_UNAVAILABLE', `not connected to ${this.description}`);
    return this.live.slave.rsyncTarget();
  }

  async close(): Promise<void> {
    const live = this.live;
    this.live = null;
    await live?.close();
  }
}

/** rsync destination `host:path` through the bridge (the bridge ignores the host). */
function rsyncTargetVia(host: string, target: string, rsh: string): RsyncTarget {
  const h = host.includes(':') ? `[${host}]` : host;
  return { dest: `${h}:${target}`, rsh };
}

/** How long a failed handshake waits for the command's exit status (it may trail the broken pipe). */
const EXIT_STATUS_WAIT_MS = 2000;
/** stderr kept for explaining a failed start. */
const START_STDERR_BYTES = 8192;

/** What the slave command said and how it ended, until the handshake is done. */
class StartWatch {
  private text = '';
  private code: number | null | undefined;
  private onExit: (() => void) | null = null;

  constructor(private readonly command: string, private readonly host: string) {}

  stderr(d: Buffer): void {
    if (this.text.length < START_STDERR_BYTES) this.text += d.toString('utf8');
  }

  exited(code: number | null): void {
    if (this.code !== undefined && this.code !== null) return; // close after exit: keep the status
    this.code = code;
    this.onExit?.();
  }

  /** The handshake failed: a slave command that cannot start becomes its own error, tagged for the metric. */
  async explain(err: unknown): Promise<never> {
    if (this.code === undefined) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, EXIT_STATUS_WAIT_MS);
        this.onExit = () => { clearTimeout(timer); resolve(); };
      });
    }
    const problem = slaveStartProblem({ command: this.command, host: this.host, exitCode: this.code ?? null, stderr: this.text, error: err });
    throw problem ? Object.assign(problem.error, { startReason: problem.reason }) : err;
  }
}

function classify(err: unknown): SshConnectResult {
  const start = (err as { startReason?: SlaveStartReason } | null)?.startReason;
  if (start) return start;
  if (isGsyncdError(err, 'GSYNCD_ERR_HOST_KEY')) return 'host_key_rejected';
  const text = String((err as Error)?.message ?? err);
  if (/authentication/i.test(text)) return 'auth_failed';
  if (/ECONNREFUSED/.test(text)) return 'refused';
  if (/timed? ?out/i.test(text)) return 'timeout';
  return 'error';
}
