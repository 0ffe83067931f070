// Commands run on the slave inside the session's RPC channel (capability `streams`): a receiving
// `rsync --server` or `tar --extract` started by the slave process itself, its stdio carried as
// data frames (protocol/frame.ts) beside the RPC's JSON frames. Over ssh this replaces an exec
// channel per rsync run, and with it sshd's session set-up, the login shell (and its rc files)
// and a dispatcher process per run: one exec per session instead of one per batch.
//
//   master → slave  request `run {stream, argv}`; its reply {code} comes when the command
//                   has ended and all its output was sent
//   master → slave  IN (stdin bytes), IN_END (stdin closed), CREDIT (for OUT/ERR bytes written)
//   slave → master  OUT, ERR (stdout, stderr bytes), CREDIT (for IN bytes written to the command)
//
// Flow control is by credit: a side sends at most WINDOW bytes of a stream the other has not yet
// written on; so a slow command (or a slow local rsync) bounds what either process buffers.
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { gsyncdError } from '../core/errors.js';
import { DataFrame, encodeDataFrames } from '../protocol/frame.js';

export const StreamKind = { in: 0, inEnd: 1, out: 2, err: 3, credit: 4 } as const;

/** Bytes of a stream, per direction, sent and not yet written by the other side. */
export const STREAM_WINDOW = 4 * 1024 * 1024;

/** A command running on the slave host, as the rsh bridge drives it (an exec channel or a stream). */
export interface RemoteCommand {
  /** Stdin; false when the caller should wait for onDrain before writing more. */
  write(data: Buffer): boolean;
  end(): void;
  onDrain(fn: () => void): void;
  /** `written` is called once the bytes were handed on (they count against the window until then). */
  onStdout(fn: (data: Buffer, written: () => void) => void): void;
  onStderr(fn: (data: Buffer, written: () => void) => void): void;
  /** Exit status (255: lost, 128+n: killed by signal n), after all output was delivered. */
  readonly exit: Promise<number>;
}

function credit(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** Credit-limited sending of one direction of a stream. */
class Outflow {
  private credit = STREAM_WINDOW;
  private readonly reopened: Array<() => void> = [];
  constructor(private readonly send: (bufs: Buffer[]) => void, private readonly stream: number) {}

  /** Sends; false when the window is used up (onReopen listeners are called when it opens again). */
  push(kind: number, data: Buffer): boolean {
    this.send(encodeDataFrames(this.stream, kind, data));
    this.credit -= data.length;
    return this.credit > 0;
  }

  grant(n: number): void {
    const closed = this.credit <= 0;
    this.credit += n;
    if (closed && this.credit > 0) for (const fn of this.reopened) fn();
  }

  onReopen(fn: () => void): void {
    this.reopened.push(fn);
  }

  /** The stream is over: whoever waits goes on (and what it sends is dropped). */
  release(): void {
    this.grant(Number.POSITIVE_INFINITY);
  }
}

function creditOf(f: DataFrame): number {
  return f.data.length === 4 ? f.data.readUInt32BE(0) : 0;
}

// ─── master side ────────────────────────────────────────────────────────────────────────────

export interface StreamClientDeps {
  /** Write frames to the RPC output. */
  readonly send: (bufs: Buffer[]) => void;
  /** The `run` call (no timeout: it lasts as long as the command). */
  readonly run: (params: { stream: number; argv: string[] }) => Promise<unknown>;
}

interface ClientStream {
  readonly out: Outflow;
  stdout?: (data: Buffer, written: () => void) => void;
  stderr?: (data: Buffer, written: () => void) => void;
}

export class StreamClient {
  private next = 1;
  private readonly streams = new Map<number, ClientStream>();

  constructor(private readonly deps: StreamClientDeps) {}

  /** Start `argv` on the slave; a refusal or a lost session shows as stderr text and an exit status. */
  open(argv: string[]): RemoteCommand {
    const stream = this.next++;
    const out = new Outflow(this.deps.send, stream);
    const s: ClientStream = { out };
    this.streams.set(stream, s);
    const pendingErr: Buffer[] = [];
    const exit = this.deps.run({ stream, argv }).then(
      (r) => {
        const code = (r as { code?: unknown } | null)?.code;
        return typeof code === 'number' && Number.isInteger(code) && code >= 0 && code <= 255 ? code : 255;
      },
      (err: unknown) => {
        const text = Buffer.from(`gsyncd: ${(err as Error).message}\n`);
        if (s.stderr) s.stderr(text, () => {}); else pendingErr.push(text);
        return (err as { refusal?: unknown }).refusal ? 12 : 255;
      },
    ).finally(() => { this.streams.delete(stream); out.release(); });
    let ended = false;
    return {
      write: (data) => (ended || data.length === 0 ? true : out.push(StreamKind.in, data)),
      end: () => { if (!ended) { ended = true; out.push(StreamKind.inEnd, Buffer.alloc(0)); } },
      onDrain: (fn) => out.onReopen(fn),
      onStdout: (fn) => { s.stdout = fn; },
      onStderr: (fn) => { s.stderr = fn; for (const t of pendingErr.splice(0)) fn(t, () => {}); },
      exit,
    };
  }

  /** A data frame from the slave; false when it names no stream this side opened (a violation). */
  receive(f: DataFrame): boolean {
    const s = this.streams.get(f.stream);
    if (!s) return f.stream > 0 && f.stream < this.next; // late frame of a stream that ended
    const ack = () => this.deps.send(encodeDataFrames(f.stream, StreamKind.credit, credit(f.data.length)));
    switch (f.kind) {
      case StreamKind.credit: s.out.grant(creditOf(f)); return true;
      case StreamKind.out: if (s.stdout) s.stdout(f.data, ack); else ack(); return true;
      case StreamKind.err: if (s.stderr) s.stderr(f.data, ack); else ack(); return true;
      default: return false;
    }
  }

  /** The session is gone: writers stop waiting (their run calls fail on their own). */
  closeAll(): void {
    for (const s of this.streams.values()) s.out.release();
  }
}

// ─── slave side ─────────────────────────────────────────────────────────────────────────────

/** What the slave runs for a request, or why not (the slave's confinement policy decides). */
export type StreamDecision =
  | { readonly argv: string[]; readonly env?: NodeJS.ProcessEnv }
  | { readonly refusal: string; readonly message: string };

export interface StreamHostDeps {
  readonly send: (bufs: Buffer[]) => void;
  readonly decide: (argv: string[]) => StreamDecision;
  /** A command ended (for the slave's metrics). */
  readonly onExit?: (argv0: string, code: number) => void;
}

interface HostStream {
  readonly child: ChildProcess;
  readonly out: Outflow;
}

const MAX_WORDS = 256;
const MAX_WORD = 4096;

export class StreamHost {
  private last = 0;
  private readonly streams = new Map<number, HostStream>();
  private closed = false;

  constructor(private readonly deps: StreamHostDeps) {}

  get running(): number {
    return this.streams.size;
  }

  /**
   * The `run` handler. Registers the stream before it returns its promise, so the IN frames
   * that follow the request in the same read find it.
   */
  run(params: unknown): Promise<{ code: number }> {
    const p = (params ?? {}) as { stream?: unknown; argv?: unknown };
    const stream = p.stream;
    if (typeof stream !== 'number' || !Number.isSafeInteger(stream) || stream <= this.last || stream > 0xffffffff) {
      return Promise.reject(badRun('params.stream must be a new stream id, above the last one'));
    }
    this.last = stream;
    const argv = p.argv;
    if (!Array.isArray(argv) || argv.length === 0 || argv.length > MAX_WORDS || !argv.every((w) => typeof w === 'string' && w.length <= MAX_WORD && !w.includes('\0'))) {
      return Promise.reject(badRun('params.argv must be a list of words'));
    }
    if (this.closed) return Promise.reject(gsyncdError('GSYNCD_ERR_RPC', 'the session is closing'));
    const decision = this.deps.decide(argv as string[]);
    if ('refusal' in decision) {
      return Promise.reject(Object.assign(gsyncdError('GSYNCD_ERR_SLAVE_COMMAND', `refused: ${decision.message}`), { refusal: decision.refusal }));
    }
    const [cmd, ...args] = decision.argv;
    const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'], env: decision.env ?? process.env });
    const out = new Outflow(this.deps.send, stream);
    this.streams.set(stream, { child, out });
    // stdout and stderr share the window: both wait when it is used up.
    const outputs = [child.stdout!, child.stderr!];
    out.onReopen(() => { for (const o of outputs) o.resume(); });
    const pump = (from: NodeJS.ReadableStream, kind: number) => {
      from.on('data', (d: Buffer) => {
        if (!out.push(kind, d)) for (const o of outputs) o.pause();
      });
    };
    pump(child.stdout!, StreamKind.out);
    pump(child.stderr!, StreamKind.err);
    child.stdin!.on('error', () => { /* the command ended early: its exit status says why */ });
    return new Promise((resolve, reject) => {
      child.once('error', (err) => {
        this.finish(stream);
        reject(gsyncdError('GSYNCD_ERR_SLAVE_COMMAND', `cannot run ${cmd}: ${err.message}`));
      });
      child.once('close', (code, signal) => {
        this.finish(stream);
        const status = code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0);
        this.deps.onExit?.(argv[0] as string, status);
        resolve({ code: status });
      });
    });
  }

  /** A data frame from the master; false when it names no stream ever opened (a violation). */
  receive(f: DataFrame): boolean {
    const s = this.streams.get(f.stream);
    if (!s) return f.stream > 0 && f.stream <= this.last; // the command ended meanwhile
    const stdin = s.child.stdin!;
    switch (f.kind) {
      case StreamKind.in: {
        const n = f.data.length;
        stdin.write(f.data, () => this.deps.send(encodeDataFrames(f.stream, StreamKind.credit, credit(n))));
        return true;
      }
      case StreamKind.inEnd: stdin.end(); return true;
      case StreamKind.credit: s.out.grant(creditOf(f)); return true;
      default: return false;
    }
  }

  /** The session ended: no command outlives it. */
  closeAll(): void {
    this.closed = true;
    for (const s of this.streams.values()) {
      s.out.release();
      s.child.stdin?.destroy();
      s.child.kill('SIGTERM');
    }
  }

  private finish(stream: number): void {
    const s = this.streams.get(stream);
    this.streams.delete(stream);
    s?.out.release();
  }
}

function badRun(message: string) {
  return Object.assign(gsyncdError('GSYNCD_ERR_RPC', `bad parameters: ${message}`), { reason: 'bad_params' });
}
