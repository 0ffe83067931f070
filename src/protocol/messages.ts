// The messages of the master-slave RPC, as both ends see them: protocol version, handshake,
// error replies. Framing is frame.ts; the client and server that carry them are transport/rpc.ts.
import { errorCodes, gsyncdError, type ErrorCode, type GsyncdError } from '../core/errors.js';
import type { SlaveIdentity } from './endpoint.js';

export const PROTOCOL_VERSION = 1;
export const BROKEN = 'connection to peer is broken';

export interface RpcErrorBody {
  readonly code: string;
  readonly message: string;
  readonly refusal?: string;
}

export interface HelloParams {
  readonly protocol: number;
  readonly client: 'gsyncd';
  readonly session?: string;
  readonly masterVolumeId?: string;
}

export interface HelloReply {
  readonly protocol: number;
  readonly capabilities: string[];
  readonly identity: SlaveIdentity;
  /** Absolute path of the slave root on the slave host (rsync's destination there). */
  readonly rsyncTarget: string;
  readonly pid: number;
}

/** Why a session ended. `eof` and `local` are normal ends; the rest are failures. */
export interface RpcCloseReason {
  readonly kind: 'eof' | 'local' | 'inactive' | 'protocol_violation' | 'stream_error' | 'keepalive_failed';
  readonly message: string;
}

export function rpcError(message: string, extra: Record<string, unknown> = {}, cause?: unknown): GsyncdError {
  return Object.assign(gsyncdError('GSYNCD_ERR_RPC', message, cause), extra);
}

/** Turn an error reply back into an error on the calling side. */
export function errorFromReply(body: unknown, method: string): Error {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Partial<RpcErrorBody>;
  const code = typeof b.code === 'string' ? b.code : 'GSYNCD_ERR_RPC';
  const message = typeof b.message === 'string' ? b.message : `${method} failed on the peer`;
  const extra: Record<string, unknown> = { remote: true };
  if (typeof b.refusal === 'string') extra['refusal'] = b.refusal;
  if ((errorCodes as string[]).includes(code)) return Object.assign(gsyncdError(code as ErrorCode, message), extra);
  // An errno (ENOTDIR, EACCES …) keeps its code so callers see what a local slave would throw.
  return Object.assign(new Error(message), { code }, extra);
}

/** The error reply body for anything a handler threw. */
export function errorBody(err: unknown): RpcErrorBody {
  const e = err as { code?: unknown; message?: unknown; refusal?: unknown };
  const code = typeof e?.code === 'string' ? e.code : 'GSYNCD_ERR_INTERNAL';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return typeof e?.refusal === 'string' ? { code, message, refusal: e.refusal } : { code, message };
}

/** Validate a hello reply; a different protocol major is a GSYNCD_ERR_RPC. */
export function checkHelloReply(reply: unknown): HelloReply {
  const r = reply as Partial<HelloReply> | null;
  if (typeof r !== 'object' || r === null || typeof r.protocol !== 'number') throw rpcError('bad hello reply from the slave');
  if (Math.trunc(r.protocol) !== PROTOCOL_VERSION) throw rpcError(`protocol version mismatch (master ${PROTOCOL_VERSION}, slave ${r.protocol})`, { reason: 'version_mismatch' });
  if (!Array.isArray(r.capabilities) || typeof r.rsyncTarget !== 'string' || !r.rsyncTarget.startsWith('/') ||
      typeof r.identity !== 'object' || r.identity === null || typeof r.pid !== 'number') {
    throw rpcError('bad hello reply from the slave');
  }
  return r as HelloReply;
}
