// Length-prefixed frames for the master–slave RPC: a u32 big-endian byte length, then that many
// bytes of UTF-8 JSON holding one object. Paths are latin1 byte strings (src/core/bytepath.ts),
// which JSON carries exactly. Anything else on the wire (oversized length, bytes that are not
// UTF-8 JSON, a JSON value that is not an object) is a protocol violation reported as one
// GsyncdError (code GSYNCD_ERR_RPC) with a `reason`; after one, the decoder refuses all input.
//
// A session that negotiated the `streams` capability also carries data frames: the length word
// with its top bit set, then a u32 stream id, a u8 kind and raw bytes (a remote rsync's or tar's
// stdio; see transport/streams.ts). A decoder not told to accept them sees an oversized frame.
import { gsyncdError, type GsyncdError } from '../core/errors.js';

/** Largest frame payload accepted by default (64 MiB). */
export const MAX_FRAME = 64 * 1024 * 1024;
const HEADER = 4;
const DATA_FLAG = 0x8000_0000;
const DATA_HEAD = 5;
/** Largest data payload per frame: bigger writes are cut into frames of this size. */
export const MAX_DATA = 256 * 1024;

/** One chunk of a stream's bytes (or a control word: see StreamKind in transport/streams.ts). */
export class DataFrame {
  constructor(readonly stream: number, readonly kind: number, readonly data: Buffer) {}
}

/** Data frames for `data` (several when it exceeds MAX_DATA; one empty frame for no bytes). */
export function encodeDataFrames(stream: number, kind: number, data: Buffer = Buffer.alloc(0)): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  do {
    const part = data.subarray(off, off + MAX_DATA);
    const head = Buffer.allocUnsafe(HEADER + DATA_HEAD);
    head.writeUInt32BE((DATA_FLAG | (DATA_HEAD + part.length)) >>> 0, 0);
    head.writeUInt32BE(stream >>> 0, HEADER);
    head[HEADER + 4] = kind;
    out.push(part.length ? Buffer.concat([head, part]) : head);
    off += part.length;
  } while (off < data.length);
  return out;
}

export type FrameErrorReason = 'oversized' | 'bad_json' | 'not_object';
export type FrameError = GsyncdError & { readonly reason: FrameErrorReason };

export function frameError(reason: FrameErrorReason, message: string): FrameError {
  return Object.assign(gsyncdError('GSYNCD_ERR_RPC', message), { reason });
}

export function isFrameError(err: unknown): err is FrameError {
  return err instanceof Error && (err as FrameError).code === 'GSYNCD_ERR_RPC' &&
    ['oversized', 'bad_json', 'not_object'].includes((err as FrameError).reason);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One frame for `obj` (a JSON object). Throws a FrameError when it would exceed `maxFrame`. */
export function encodeFrame(obj: object, maxFrame = MAX_FRAME): Buffer {
  if (!isPlainObject(obj)) throw frameError('not_object', 'frame payload must be a JSON object');
  const json = JSON.stringify(obj);
  const len = Buffer.byteLength(json, 'utf8');
  if (len > maxFrame) throw frameError('oversized', `frame of ${len} bytes exceeds the limit of ${maxFrame} bytes`);
  const buf = Buffer.allocUnsafe(HEADER + len);
  buf.writeUInt32BE(len, 0);
  buf.write(json, HEADER, 'utf8');
  return buf;
}

export interface FrameDecoderOptions {
  /** Largest payload accepted (bytes); default MAX_FRAME. */
  readonly maxFrame?: number;
  /** Decode data frames (the session negotiated streams); otherwise they are oversized frames. */
  readonly acceptData?: () => boolean;
}

/** Incremental decoder: feed chunks as they arrive, get the complete frames' objects. */
export class FrameDecoder {
  private readonly maxFrame: number;
  private readonly acceptData: () => boolean;
  /** The frame being assembled is a data frame. */
  private data = false;
  private chunks: Buffer[] = [];
  private size = 0;
  /** Payload length of the frame being assembled, once its header is in. */
  private need = -1;
  private failed: FrameError | null = null;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  constructor(opts: FrameDecoderOptions = {}) {
    this.maxFrame = opts.maxFrame ?? MAX_FRAME;
    this.acceptData = opts.acceptData ?? (() => false);
  }

  /** Bytes received but not yet part of a complete frame. */
  get buffered(): number {
    return this.size;
  }

  push(chunk: Uint8Array): Array<object | DataFrame> {
    if (this.failed) throw this.failed;
    if (chunk.length > 0) {
      this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.size += chunk.length;
    }
    const out: Array<object | DataFrame> = [];
    try {
      for (;;) {
        if (this.need < 0) {
          if (this.size < HEADER) break;
          let len = this.take(HEADER).readUInt32BE(0);
          this.data = (len & DATA_FLAG) !== 0 && this.acceptData();
          if (this.data) {
            len = (len & ~DATA_FLAG) >>> 0;
            if (len < DATA_HEAD || len > DATA_HEAD + MAX_DATA) throw frameError('oversized', `data frame of ${len} bytes is outside 5..${DATA_HEAD + MAX_DATA}`);
          }
          if (len > this.maxFrame) throw frameError('oversized', `frame of ${len} bytes exceeds the limit of ${this.maxFrame} bytes`);
          this.need = len;
        }
        if (this.size < this.need) break;
        const payload = this.take(this.need);
        this.need = -1;
        // Copied: take() may return a view of a larger chunk that later frames share.
        out.push(this.data ? new DataFrame(payload.readUInt32BE(0), payload[4]!, Buffer.from(payload.subarray(DATA_HEAD))) : this.parse(payload));
      }
    } catch (err) {
      this.failed = err as FrameError;
      this.chunks = [];
      this.size = 0;
      throw err;
    }
    return out;
  }

  /** Remove and return the first n buffered bytes (concatenating only what is needed). */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (n === 0) {
      out = Buffer.alloc(0);
    } else if (first && first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - off);
        c.copy(out, off, 0, k);
        off += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.size -= n;
    return out;
  }

  private parse(payload: Buffer): object {
    let value: unknown;
    try {
      value = JSON.parse(this.utf8.decode(payload));
    } catch {
      // No parser message: V8 quotes the input in it, and frame contents do not belong in logs.
      throw frameError('bad_json', `frame of ${payload.length} bytes is not UTF-8 JSON`);
    }
    if (!isPlainObject(value)) throw frameError('not_object', `frame holds ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}, not an object`);
    return value;
  }
}
