// A slave reached over RPC: the master's SlaveEndpoint on top of an RpcClient, over any pair of
// byte streams (a child process's stdio, an ssh2 exec channel). connect() does the hello
// handshake and starts keep-alive; rsync's destination comes from the handshake's rsyncTarget.
//
// spawnLocalSlave runs `gsyncd --slave ROOT` as a child with pipes, as the original served a local
// `:pop :yow` pair; its stderr is kept in a 1 MiB ring buffer and logged line by line when the
// child fails.
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { BytePath } from '../core/bytepath.js';
import type { SlaveEntry } from '../core/entry.js';
import { gsyncdError } from '../core/errors.js';
import type { EntryOp, OpResult } from '../core/ops.js';
import type { Xtime } from '../core/xtime.js';
import type { Logger } from '../log/logger.js';
import type { RsyncTarget, SlaveEndpoint, SlaveIdentity } from '../protocol/endpoint.js';
import type { HelloReply, RpcCloseReason } from '../protocol/messages.js';
import { RpcClient } from './rpc.js';
import { StreamClient, type RemoteCommand } from './streams.js';

export interface SlaveStreams {
  /** What the slave writes (its stdout). */
  readonly readable: Readable;
  /** What the slave reads (its stdin). */
  readonly writable: Writable;
}

export interface RemoteSlaveOptions {
  /** Keep-alive period is timeoutSec/2; 0 = no keep-alive. */
  readonly timeoutSec: number;
  /** Per-call timeout (ms); default timeoutSec (at least 30 s), 0 when timeoutSec is 0. */
  readonly callTimeoutMs?: number;
  /** Extra time an apply call gets per op (ms); default 25. */
  readonly applyMsPerOp?: number;
  readonly description: string;
  /** rsync's target for the slave root path on the slave host (e.g. `host:PATH` with a bridge rsh). */
  readonly rsync: (target: string) => RsyncTarget;
  readonly session?: string;
  readonly masterVolumeId?: string;
  readonly log?: Logger;
  readonly onClose?: (reason: RpcCloseReason) => void;
  /** Release what carries the streams (kill the child, close the channel) after close(). */
  readonly release?: () => Promise<void>;
}

function protocolError(message: string) {
  return gsyncdError('GSYNCD_ERR_RPC', `bad reply from the slave: ${message}`);
}

export class RemoteSlave implements SlaveEndpoint {
  readonly description: string;
  private readonly callTimeoutMs: number;
  private closing: Promise<void> | undefined;

  private constructor(private readonly client: RpcClient, private readonly streams: StreamClient, readonly hello: HelloReply, private readonly opts: RemoteSlaveOptions) {
    this.description = opts.description;
    this.callTimeoutMs = defaultCallTimeout(opts);
  }

  /** Handshake over `streams`; on failure the streams are ended and `release` is called. */
  static async connect(streams: SlaveStreams, opts: RemoteSlaveOptions): Promise<RemoteSlave> {
    let inBand: StreamClient | undefined;
    const client = new RpcClient(streams.readable, streams.writable, {
      log: opts.log,
      onClose: (reason) => { inBand?.closeAll(); opts.onClose?.(reason); },
      onDataFrame: (f) => inBand?.receive(f) ?? false,
    });
    inBand = new StreamClient({ send: (bufs) => client.sendRaw(bufs), run: (params) => client.call('run', params, { timeoutMs: 0 }) });
    let hello: HelloReply;
    try {
      hello = await client.hello(
        { ...(opts.session ? { session: opts.session } : {}), ...(opts.masterVolumeId ? { masterVolumeId: opts.masterVolumeId } : {}) },
        { timeoutMs: defaultCallTimeout(opts) || 60_000 },
      );
    } catch (err) {
      client.close('handshake failed');
      await opts.release?.().catch(() => {});
      throw err;
    }
    client.startKeepAlive(opts.timeoutSec);
    opts.log?.info({ slave: opts.description, slavePid: hello.pid, rsyncTarget: hello.rsyncTarget, capabilities: hello.capabilities }, 'slave handshake done');
    return new RemoteSlave(client, inBand, hello, opts);
  }

  /** Resolves when the connection ends, with why. */
  get closed(): Promise<RpcCloseReason> {
    return this.client.closed;
  }

  async identity(): Promise<SlaveIdentity> {
    const r = await this.client.call<SlaveIdentity>('identity', null, { timeoutMs: this.callTimeoutMs });
    if (typeof r !== 'object' || r === null || typeof r.root !== 'string') throw protocolError('identity');
    return r;
  }

  async list(dir: BytePath, markKey: string): Promise<SlaveEntry[] | null> {
    const r = await this.client.call<SlaveEntry[] | null>('list', { dir, markKey }, { timeoutMs: this.callTimeoutMs });
    if (r !== null && !Array.isArray(r)) throw protocolError('list');
    return r;
  }

  async readMark(dir: BytePath, markKey: string): Promise<Xtime | null> {
    const r = await this.client.call<Xtime | null>('readMark', { dir, markKey }, { timeoutMs: this.callTimeoutMs });
    if (r !== null && (typeof r !== 'object' || typeof r.sec !== 'number' || typeof r.usec !== 'number')) throw protocolError('readMark');
    return r;
  }

  async apply(ops: EntryOp[], markKey: string): Promise<OpResult[]> {
    if (ops.length === 0) return [];
    const timeoutMs = this.callTimeoutMs > 0 ? this.callTimeoutMs + ops.length * (this.opts.applyMsPerOp ?? 25) : 0;
    const r = await this.client.call<OpResult[]>('apply', { ops, markKey }, { timeoutMs });
    if (!Array.isArray(r) || r.length !== ops.length || !r.every((x) => typeof x === 'object' && x !== null && typeof x.ok === 'boolean')) {
      throw protocolError(`apply returned ${Array.isArray(r) ? r.length : 'no'} results for ${ops.length} ops`);
    }
    return r;
  }

  rsyncTarget(): RsyncTarget {
    return this.opts.rsync(this.hello.rsyncTarget);
  }

  /** Whether the slave runs `program` (rsync, tar) inside this session (capability streams / tar-streams). */
  runsInBand(program: string): boolean {
    const caps = this.hello.capabilities;
    return program === 'rsync' ? caps.includes('streams') : program === 'tar' && caps.includes('tar-streams');
  }

  /** Run a receiving rsync or tar on the slave inside this session (see streams.ts). */
  runInBand(argv: string[]): RemoteCommand {
    return this.streams.open(argv);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.client.close();
      await this.opts.release?.();
    })();
    return this.closing;
  }
}

function defaultCallTimeout(opts: RemoteSlaveOptions): number {
  if (opts.callTimeoutMs !== undefined) return opts.callTimeoutMs;
  return opts.timeoutSec > 0 ? Math.max(30_000, Math.round(opts.timeoutSec * 1000)) : 0;
}

// ─── local child slave ──────────────────────────────────────────────────────────────────────

export interface LocalSlaveSpawnOptions {
  readonly timeoutSec: number;
  readonly callTimeoutMs?: number;
  readonly syncJobs?: number;
  readonly logLevel?: string;
  /** Extra gsyncd arguments placed before the root URL. */
  readonly extraArgs?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly session?: string;
  readonly masterVolumeId?: string;
  readonly log?: Logger;
  readonly description?: string;
  /** Time the child gets to exit after its stdin is closed before SIGTERM (ms); default 5000. */
  readonly exitGraceMs?: number;
}

const RING_BYTES = 1 << 20;

/** Last bytes of a stream (1 MiB), for logging a failed child's stderr. */
export class RingBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit = RING_BYTES) {}
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size > this.limit && this.chunks.length > 0) {
      const first = this.chunks[0]!;
      const excess = this.size - this.limit;
      if (first.length <= excess) { this.chunks.shift(); this.size -= first.length; }
      else { this.chunks[0] = first.subarray(excess); this.size -= excess; }
    }
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/**
 * Spawn `command... --slave [options] ROOT` with pipes and connect to it. The rsync target is the
 * local path the slave reports. Rejects with GSYNCD_ERR_SLAVE_UNAVAILABLE when the child cannot
 * start or exits before the handshake (its stderr is in the message).
 */
export async function spawnLocalSlave(command: readonly string[], rootUrlText: string, opts: LocalSlaveSpawnOptions): Promise<RemoteSlave> {
  const [cmd, ...pre] = command;
  if (!cmd) throw gsyncdError('GSYNCD_ERR_USAGE', 'empty slave command');
  const args = [...pre, '--slave', '--timeout', String(opts.timeoutSec)];
  if (opts.syncJobs !== undefined) args.push('--sync-jobs', String(opts.syncJobs));
  if (opts.logLevel) args.push('--log-level', opts.logLevel);
  args.push(...(opts.extraArgs ?? []), rootUrlText);
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
  const stderr = new RingBuffer();
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  child.stdin.on('error', () => { /* the child died: the RPC client reports the broken connection */ });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const description = opts.description ?? `local slave ${rootUrlText}`;
  let expectedExit = false;
  const logStderr = (why: string) => {
    const text = stderr.text().trim();
    if (!opts.log) return;
    opts.log.error({ slave: description, pid: child.pid }, why);
    for (const line of text.split('\n')) if (line) opts.log.error({ slave: description }, `${cmd}> ${line}`);
  };
  void exited.then((r) => {
    if (!expectedExit && (r.error || r.code !== 0)) logStderr(`slave process ended: ${r.error ? r.error.message : r.signal ?? `exit ${r.code}`}`);
  });
  const release = async () => {
    expectedExit = true;
    if (!child.stdin.writableEnded) child.stdin.end();
    const grace = opts.exitGraceMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const killed = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => { timer = setTimeout(() => r(true), grace); })]);
    if (timer) clearTimeout(timer);
    if (killed && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(t);
    }
  };
  const early = exited.then((r) => {
    const tail = stderr.text().trim().split('\n').slice(-5).join('; ');
    throw gsyncdError('GSYNCD_ERR_SLAVE_UNAVAILABLE',
      `cannot start slave ${JSON.stringify([cmd, ...args].join(' '))}: ${r.error ? r.error.message : `exited (${r.signal ?? r.code}) before the handshake`}${tail ? `: ${tail}` : ''}`);
  });
  early.catch(() => {});
  const connected = RemoteSlave.connect({ readable: child.stdout, writable: child.stdin }, {
    timeoutSec: opts.timeoutSec,
    callTimeoutMs: opts.callTimeoutMs,
    description,
    rsync: (target) => ({ dest: target }),
    session: opts.session,
    masterVolumeId: opts.masterVolumeId,
    log: opts.log,
    release,
  });
  try {
    return await Promise.race([connected, early]);
  } catch (err) {
    connected.then((s) => s.close(), () => {});
    // The pipe usually breaks just before the exit is seen: prefer the exit (with stderr) as the reason.
    let reason = err;
    if ((err as { closeReason?: unknown }).closeReason !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      reason = await Promise.race([early.then(() => err, (e: unknown) => e), new Promise<unknown>((r) => { timer = setTimeout(() => r(err), 2000); })]);
      if (timer) clearTimeout(timer);
    }
    await release();
    throw reason;
  }
}
