// Request/reply RPC over a pair of byte streams (a child's stdio, an ssh exec channel), framed by
// protocol/frame.ts. Messages (protocol/messages.ts):
//   request  {id: number, method: string, params: unknown}
//   reply    {id, ok: true, result} | {id, ok: false, error: {code, message, refusal?}}
// Calls run concurrently and replies are matched by id. Unlike the original RePCe, every call has
// a timeout, and a broken peer (EOF, stream error, bad frame) fails every pending call at once
// with GSYNCD_ERR_RPC "connection to peer is broken".
//
// Handshake: the first call is `hello` (HelloParams/HelloReply in protocol/messages.ts); the protocol major must
// match. Keep-alive: the client calls `keepAlive` every timeout/2 s; the server closes a session
// that has sent no request for `timeoutSec` ("connection inactive").
import type { Readable, Writable } from 'node:stream';
import { isGsyncdError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { DataFrame, encodeFrame, FrameDecoder, isFrameError, MAX_FRAME } from '../protocol/frame.js';
import { BROKEN, checkHelloReply, errorBody, errorFromReply, PROTOCOL_VERSION, rpcError, type HelloParams, type HelloReply, type RpcCloseReason } from '../protocol/messages.js';

// ─── client ─────────────────────────────────────────────────────────────────────────────────

export interface RpcClientOptions {
  /** Default per-call timeout in ms (0 = none). */
  readonly timeoutMs?: number;
  readonly maxFrame?: number;
  readonly log?: Logger;
  /** Called once when the connection ends, for whatever reason. */
  readonly onClose?: (reason: RpcCloseReason) => void;
  /** Data frames of the session's streams (transport/streams.ts); false: not one we expect. */
  readonly onDataFrame?: (f: DataFrame) => boolean;
}

interface Pending {
  readonly method: string;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
  readonly timer?: NodeJS.Timeout;
}

export class RpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly decoder: FrameDecoder;
  private closeReason: RpcCloseReason | null = null;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private readonly closedPromise: Promise<RpcCloseReason>;
  private resolveClosed!: (r: RpcCloseReason) => void;
  private readonly onData = (chunk: Buffer) => this.receive(chunk);
  private readonly onEnd = () => this.shutdown({ kind: 'eof', message: 'peer closed the connection' });
  private readonly onError = (err: Error) => this.shutdown({ kind: 'stream_error', message: err.message });

  constructor(private readonly input: Readable, private readonly output: Writable, private readonly opts: RpcClientOptions = {}) {
    this.decoder = new FrameDecoder({ maxFrame: opts.maxFrame ?? MAX_FRAME, acceptData: () => opts.onDataFrame !== undefined });
    this.closedPromise = new Promise((r) => { this.resolveClosed = r; });
    input.on('data', this.onData);
    input.on('end', this.onEnd);
    input.on('close', this.onEnd);
    input.on('error', this.onError);
    output.on('error', this.onError);
    output.on('close', this.onEnd);
  }

  /** Resolves when the connection has ended, with why. */
  get closed(): Promise<RpcCloseReason> {
    return this.closedPromise;
  }

  get isClosed(): boolean {
    return this.closeReason !== null;
  }

  get pendingCalls(): number {
    return this.pending.size;
  }

  call<T = unknown>(method: string, params: unknown = null, opts: { timeoutMs?: number } = {}): Promise<T> {
    if (this.closeReason) return Promise.reject(rpcError(`${BROKEN} (${this.closeReason.message})`, { closeReason: this.closeReason }));
    const id = this.nextId++;
    let frame: Buffer;
    try {
      frame = encodeFrame({ id, method, params: params === undefined ? null : params }, this.opts.maxFrame ?? MAX_FRAME);
    } catch (err) {
      return Promise.reject(err);
    }
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs ?? 0;
    return new Promise<T>((resolve, reject) => {
      const timer = timeoutMs > 0
        ? setTimeout(() => {
          if (this.pending.delete(id)) reject(rpcError(`${method}: no reply from peer within ${timeoutMs} ms (timeout)`, { reason: 'timeout' }));
        }, timeoutMs)
        : undefined;
      timer?.unref();
      this.pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject, timer });
      this.output.write(frame);
    });
  }

  /** Write already-encoded frames (data frames of a stream); dropped once the connection is closed. */
  sendRaw(bufs: readonly Buffer[]): void {
    if (this.closeReason) return;
    for (const b of bufs) this.output.write(b);
  }

  /** The handshake: must be the first call. Throws GSYNCD_ERR_RPC on a protocol mismatch. */
  async hello(params: Omit<HelloParams, 'protocol' | 'client'> = {}, opts: { timeoutMs?: number } = {}): Promise<HelloReply> {
    const reply = await this.call<unknown>('hello', { protocol: PROTOCOL_VERSION, client: 'gsyncd', ...params }, opts);
    return checkHelloReply(reply);
  }

  /** Call keepAlive every timeoutSec/2 (not when timeoutSec <= 0). A keep-alive that gets no
   *  reply within timeoutSec closes the connection (pending calls fail). */
  startKeepAlive(timeoutSec: number): void {
    this.stopKeepAlive();
    if (!(timeoutSec > 0) || this.closeReason) return;
    const periodMs = Math.max(1, Math.round((timeoutSec * 1000) / 2));
    let inFlight = false;
    this.keepAliveTimer = setInterval(() => {
      if (inFlight || this.closeReason) return;
      inFlight = true;
      this.call('keepAlive', null, { timeoutMs: Math.max(1, Math.round(timeoutSec * 1000)) })
        .catch((err: unknown) => {
          if (!this.closeReason) this.shutdown({ kind: 'keepalive_failed', message: `keep-alive failed: ${(err as Error).message}` });
        })
        .finally(() => { inFlight = false; });
    }, periodMs);
    this.keepAliveTimer.unref();
  }

  stopKeepAlive(): void {
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
  }

  /** End the connection from our side: pending calls fail, the output stream is ended. */
  close(message = 'closed by the master'): void {
    this.shutdown({ kind: 'local', message });
  }

  private receive(chunk: Buffer): void {
    if (this.closeReason) return;
    let frames: object[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.shutdown({ kind: 'protocol_violation', message: isFrameError(err) ? `bad frame from peer (${err.reason}): ${err.message}` : String(err) });
      return;
    }
    for (const msg of frames) {
      if (msg instanceof DataFrame) {
        if (this.opts.onDataFrame?.(msg)) continue;
        this.shutdown({ kind: 'protocol_violation', message: `unexpected data frame from peer (stream ${msg.stream}, kind ${msg.kind})` });
        return;
      }
      const m = msg as { id?: unknown; ok?: unknown; result?: unknown; error?: unknown };
      const p = typeof m.id === 'number' ? this.pending.get(m.id) : undefined;
      if (!p || typeof m.ok !== 'boolean') {
        // A reply to a call that timed out is expected; anything else is the peer misbehaving.
        if (typeof m.id === 'number' && m.id > 0 && m.id < this.nextId && typeof m.ok === 'boolean') continue;
        this.shutdown({ kind: 'protocol_violation', message: `unexpected message from peer (id ${JSON.stringify(m.id)})` });
        return;
      }
      this.pending.delete(m.id as number);
      if (p.timer) clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(errorFromReply(m.error, p.method));
    }
  }

  private shutdown(reason: RpcCloseReason): void {
    if (this.closeReason) return;
    this.closeReason = reason;
    this.stopKeepAlive();
    this.input.off('data', this.onData);
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      if (p.timer) clearTimeout(p.timer);
      p.reject(rpcError(`${BROKEN} (${reason.message})`, { closeReason: reason }));
    }
    if (reason.kind !== 'local' && reason.kind !== 'eof') this.opts.log?.error({ reason: reason.kind }, `${BROKEN}: ${reason.message}`);
    try {
      if (!this.output.writableEnded) this.output.end();
    } catch { /* already gone */ }
    this.opts.onClose?.(reason);
    this.resolveClosed(reason);
  }
}

// ─── server ─────────────────────────────────────────────────────────────────────────────────

export type RpcHandler = (params: unknown) => Promise<unknown>;

export interface RpcServerOptions {
  /** Handlers running at once (further requests queue); default 1. */
  readonly concurrency?: number;
  /** Close the session when no request arrived for this long (seconds); 0 = never. */
  readonly timeoutSec?: number;
  readonly maxFrame?: number;
  readonly log?: Logger;
  /** Methods answered at once, outside the concurrency limit (cheap ones); default keepAlive. */
  readonly immediate?: readonly string[];
  /** Data frames of the session's streams (transport/streams.ts); false: not one we expect. */
  readonly onDataFrame?: (f: DataFrame) => boolean;
}

interface Request { readonly id: number; readonly method: string; readonly params: unknown }

/** Requests queued beyond this many: stop reading the input until the queue drains. */
const QUEUE_HIGH_WATER = 256;

export class RpcServer {
  private readonly decoder: FrameDecoder;
  private readonly queue: Request[] = [];
  private running = 0;
  private closeReason: RpcCloseReason | null = null;
  private inputEnded = false;
  private lastRequest = Date.now();
  private watchdog: NodeJS.Timeout | undefined;
  private readonly concurrency: number;
  private readonly immediate: ReadonlySet<string>;
  private resolveClosed!: (r: RpcCloseReason) => void;
  /** Resolves when the session is over, with why. Never rejects. */
  readonly closed: Promise<RpcCloseReason>;
  private readonly onData = (chunk: Buffer) => this.receive(chunk);
  private readonly onEnd = () => { this.inputEnded = true; this.maybeFinish(); };
  private readonly onInputError = (err: Error) => this.close({ kind: 'stream_error', message: `input: ${err.message}` });
  private readonly onOutputError = (err: Error) => this.close({ kind: 'stream_error', message: `output: ${err.message}` });

  constructor(private readonly input: Readable, private readonly output: Writable,
    private readonly handlers: Readonly<Record<string, RpcHandler>>, private readonly opts: RpcServerOptions = {}) {
    this.concurrency = Math.max(1, opts.concurrency ?? 1);
    this.immediate = new Set(opts.immediate ?? ['keepAlive']);
    this.decoder = new FrameDecoder({ maxFrame: opts.maxFrame ?? MAX_FRAME, acceptData: () => opts.onDataFrame !== undefined });
    this.closed = new Promise((r) => { this.resolveClosed = r; });
    input.on('data', this.onData);
    input.on('end', this.onEnd);
    input.on('close', this.onEnd);
    input.on('error', this.onInputError);
    output.on('error', this.onOutputError);
    const timeoutSec = opts.timeoutSec ?? 0;
    if (timeoutSec > 0) {
      const ms = Math.max(1, Math.round(timeoutSec * 1000));
      const check = () => {
        if (this.closeReason) return;
        const idle = Date.now() - this.lastRequest;
        if (idle >= ms) {
          this.opts.log?.warn({ idleSec: idle / 1000, timeoutSec }, 'connection inactive: no request from the master within the timeout, closing');
          this.close({ kind: 'inactive', message: `connection inactive for ${timeoutSec} s` });
          return;
        }
        this.watchdog = setTimeout(check, ms - idle);
      };
      this.watchdog = setTimeout(check, ms);
    }
  }

  /** Write already-encoded frames (data frames of a stream); dropped once the session is closed. */
  sendRaw(bufs: readonly Buffer[]): void {
    if (this.closeReason) return;
    for (const b of bufs) this.output.write(b);
  }

  /** End the session: stop reading, end the output. In-flight handlers' replies are dropped. */
  close(reason: RpcCloseReason = { kind: 'local', message: 'closed by the slave' }): void {
    if (this.closeReason) return;
    this.closeReason = reason;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.queue.length = 0;
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.input.off('close', this.onEnd);
    try { this.input.pause(); } catch { /* gone */ }
    try {
      if (!this.output.writableEnded) this.output.end();
    } catch { /* gone */ }
    this.resolveClosed(reason);
  }

  private receive(chunk: Buffer): void {
    if (this.closeReason) return;
    let frames: object[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      const reason = isFrameError(err) ? err.reason : 'bad_frame';
      this.opts.log?.error({ reason }, `protocol violation: ${(err as Error).message}; closing the session`);
      this.close({ kind: 'protocol_violation', message: `bad frame (${reason}): ${(err as Error).message}` });
      return;
    }
    for (const msg of frames) {
      if (msg instanceof DataFrame) {
        this.lastRequest = Date.now();
        if (this.opts.onDataFrame?.(msg)) continue;
        this.opts.log?.error({ reason: 'bad_stream' }, `protocol violation: a data frame for no open stream (${msg.stream}); closing the session`);
        this.close({ kind: 'protocol_violation', message: `data frame for no stream (${msg.stream}, kind ${msg.kind})` });
        return;
      }
      const m = msg as { id?: unknown; method?: unknown; params?: unknown };
      if (typeof m.id !== 'number' || !Number.isSafeInteger(m.id) || m.id < 0 || typeof m.method !== 'string') {
        this.opts.log?.error({ reason: 'bad_request' }, 'protocol violation: a frame that is not a request (id, method); closing the session');
        this.close({ kind: 'protocol_violation', message: 'bad request (id, method)' });
        return;
      }
      this.lastRequest = Date.now();
      const req = { id: m.id, method: m.method, params: m.params ?? null };
      if (this.immediate.has(req.method)) void this.execute(req, false);
      else this.queue.push(req);
    }
    this.pump();
  }

  private pump(): void {
    while (!this.closeReason && this.running < this.concurrency && this.queue.length > 0) {
      void this.execute(this.queue.shift()!, true);
    }
    if (this.closeReason) return;
    if (this.queue.length >= QUEUE_HIGH_WATER) this.input.pause();
    else if (this.input.isPaused() && !this.inputEnded) this.input.resume();
    this.maybeFinish();
  }

  private async execute(req: Request, counted: boolean): Promise<void> {
    if (counted) this.running++;
    let reply: object;
    try {
      const handler = Object.hasOwn(this.handlers, req.method) ? this.handlers[req.method] : undefined;
      if (!handler) throw rpcError(`unknown method ${JSON.stringify(req.method.slice(0, 100))}`);
      const result = await handler(req.params);
      reply = { id: req.id, ok: true, result: result === undefined ? null : result };
    } catch (err) {
      reply = { id: req.id, ok: false, error: errorBody(err) };
      if (!isGsyncdError(err) || err.code === 'GSYNCD_ERR_INTERNAL') this.opts.log?.debug({ method: req.method, err: errorBody(err) }, 'call failed');
    } finally {
      if (counted) this.running--;
    }
    this.send(reply);
    this.pump();
  }

  private send(reply: object): void {
    if (this.closeReason) return;
    let frame: Buffer;
    try {
      frame = encodeFrame(reply, this.opts.maxFrame ?? MAX_FRAME);
    } catch (err) {
      const id = (reply as { id: number }).id;
      frame = encodeFrame({ id, ok: false, error: { code: 'GSYNCD_ERR_RPC', message: `reply not sent: ${(err as Error).message}` } });
    }
    this.output.write(frame);
  }

  /** After EOF from the client: finish in-flight work, then end. */
  private maybeFinish(): void {
    if (this.inputEnded && !this.closeReason && this.running === 0 && this.queue.length === 0) {
      this.close({ kind: 'eof', message: 'end of input from the master' });
    }
  }
}
