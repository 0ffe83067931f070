// The slave's RPC surface over one master session: hello, identity, list, readMark, apply,
// keepAlive. Parameters are type-checked here before they reach SlaveServer, whose guard checks
// every path (relative, no '..', no NUL, no symlinked ancestor). Refusals are logged at warn with
// their reason; file contents never reach the log (there are none on this channel anyway).
import type { Readable, Writable } from 'node:stream';
import { displayPath } from '../core/bytepath.js';
import type { EntryType } from '../core/entry.js';
import { gsyncdError, type GsyncdError } from '../core/errors.js';
import type { EntryOp } from '../core/ops.js';
import { slaveMarkKey } from '../gluster/xattr-names.js';
import type { Logger } from '../log/logger.js';
import type { SlaveEndpoint } from '../protocol/endpoint.js';
import { PROTOCOL_VERSION, type HelloReply, type RpcCloseReason } from '../protocol/messages.js';
import { RpcServer } from '../transport/rpc.js';
import { StreamHost, type StreamDecision } from '../transport/streams.js';
import type { SlaveSessionEvents } from './agent-events.js';
import { SlaveServer } from './server.js';

/**
 * What a session serves: a SlaveServer, or a LocalSlave such as a GlusterSlave (which maps mark
 * keys and identity for a gluster aux mount). Its list/readMark/apply guard every path.
 */
export type ServedSlave = Pick<SlaveEndpoint, 'identity' | 'list' | 'readMark' | 'apply'> & { readonly root: string };

export interface ServeSlaveOptions {
  /** Close the session when the master sent nothing for this long (s); 0 = never. */
  readonly timeoutSec: number;
  /** Requests handled at once (the original's sync-jobs worker threads). */
  readonly concurrency: number;
  readonly log: Logger;
  /** Absolute path of the slave root on this host, for the master's rsync. */
  readonly rsyncTarget: string;
  readonly maxFrame?: number;
  /** Called with the running RpcServer (e.g. to close it on a signal). */
  readonly onServer?: (server: RpcServer) => void;
  /** Session events for the slave agent (fire-and-forget; see agent-events.ts). */
  readonly events?: SlaveSessionEvents;
  /** Serve in-band streams (rsync, and tar when allowed) under this policy (stream-policy.ts). */
  readonly streams?: StreamServing;
}

export interface StreamServing {
  readonly decide: (argv: string[]) => StreamDecision;
  /** tar --extract may run (the capability `tar-streams` is announced). */
  readonly tar: boolean;
}

export const SLAVE_CAPABILITIES = ['identity', 'list', 'readMark', 'apply', 'keepAlive'] as const;

/** Most ops accepted in one apply call. */
export const MAX_APPLY_OPS = 100_000;

function badParams(message: string): GsyncdError {
  return Object.assign(gsyncdError('GSYNCD_ERR_RPC', `bad parameters: ${message}`), { reason: 'bad_params' });
}

function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badParams(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function str(o: Record<string, unknown>, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw badParams(`${what}.${key} must be a string`);
  return v;
}

function int(o: Record<string, unknown>, key: string, what: string, max = 0xffffffff): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw badParams(`${what}.${key} must be an integer 0..${max}`);
  return v;
}

function optInt(o: Record<string, unknown>, key: string, what: string, max?: number): number | undefined {
  return o[key] === undefined ? undefined : int(o, key, what, max);
}

const MARK_KEY = /^(?:trusted|user)\.gsyncd\.([A-Za-z0-9_.:-]{1,200})\.xtime$/;

/**
 * The mark key names an xattr: only our own mark shape is accepted (never an arbitrary xattr such
 * as security.*), and the namespace is the slave's own (trusted.* as root, user.* otherwise).
 */
export function checkMarkKey(v: unknown): string {
  const m = typeof v === 'string' ? MARK_KEY.exec(v) : null;
  if (!m) throw badParams('markKey must look like <trusted|user>.gsyncd.<volume-id>.xtime');
  return slaveMarkKey(m[1]!);
}

function xtime(v: unknown, what: string): { sec: number; usec: number } {
  const o = record(v, what);
  return { sec: int(o, 'sec', what), usec: int(o, 'usec', what, 999_999) };
}

const ENTRY_TYPES = new Set(['file', 'dir', 'symlink', 'other']);

/** Type-check one entry op (paths are checked later by SlaveServer's guard). */
export function checkOp(v: unknown, i: number): EntryOp {
  const what = `ops[${i}]`;
  const o = record(v, what);
  switch (o['op']) {
    case 'mkdir':
      return { op: 'mkdir', path: str(o, 'path', what), mode: int(o, 'mode', what, 0o7777), uid: int(o, 'uid', what), gid: int(o, 'gid', what) };
    case 'rename':
      return { op: 'rename', from: str(o, 'from', what), to: str(o, 'to', what) };
    case 'link':
      return { op: 'link', existing: str(o, 'existing', what), path: str(o, 'path', what) };
    case 'delete': {
      const type = o['type'];
      if (typeof type !== 'string' || !ENTRY_TYPES.has(type)) throw badParams(`${what}.type must be file, dir, symlink or other`);
      return { op: 'delete', path: str(o, 'path', what), type: type as EntryType };
    }
    case 'setattr': {
      const op: { op: 'setattr'; path: string; mode?: number; uid?: number; gid?: number; mtime?: [number, number] } = { op: 'setattr', path: str(o, 'path', what) };
      const mode = optInt(o, 'mode', what, 0o7777);
      const uid = optInt(o, 'uid', what);
      const gid = optInt(o, 'gid', what);
      if (mode !== undefined) op.mode = mode;
      if (uid !== undefined) op.uid = uid;
      if (gid !== undefined) op.gid = gid;
      if (o['mtime'] !== undefined) {
        const t = o['mtime'];
        if (!Array.isArray(t) || t.length !== 2 || !Number.isInteger(t[0]) || !Number.isInteger(t[1]) || t[1] < 0 || t[1] > 999_999_999) {
          throw badParams(`${what}.mtime must be [sec, nsec]`);
        }
        op.mtime = [t[0] as number, t[1] as number];
      }
      return op;
    }
    case 'mark':
      return { op: 'mark', path: str(o, 'path', what), xtime: xtime(o['xtime'], `${what}.xtime`) };
    default:
      throw badParams(`${what}.op must be one of mkdir, rename, link, delete, setattr, mark`);
  }
}

function refusalOf(message: string): string {
  return /unsafe path refused \((\w+)\)/.exec(message)?.[1] ?? 'unsafe_path';
}

/** Build the method table for one session (exported for in-process tests). */
export function slaveHandlers(server: ServedSlave, opts: Pick<ServeSlaveOptions, 'log' | 'rsyncTarget'>,
  streams: { readonly host: StreamHost; readonly tar: boolean } | null = null): Record<string, (p: unknown) => Promise<unknown>> {
  const { log } = opts;
  let greeted = false;
  let keepAlives = 0;
  const requireHello = () => {
    if (!greeted) throw gsyncdError('GSYNCD_ERR_RPC', 'hello must be the first call');
  };
  /** Run a path-taking call; a guard refusal is logged (reason and path, nothing else) and re-thrown. */
  const guarded = async <T>(method: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      const e = err as GsyncdError & { refusal?: string };
      if (e.code === 'GSYNCD_ERR_UNSAFE_PATH') log.warn({ method, refusal: e.refusal ?? 'unsafe_path' }, e.message);
      throw err;
    }
  };
  return {
    async hello(p) {
      const o = record(p, 'params');
      if (typeof o['protocol'] !== 'number') throw badParams('params.protocol must be a number');
      if (Math.trunc(o['protocol']) !== PROTOCOL_VERSION) {
        log.error({ masterProtocol: o['protocol'] }, 'protocol version mismatch');
        throw gsyncdError('GSYNCD_ERR_RPC', `protocol version mismatch (master ${o['protocol']}, slave ${PROTOCOL_VERSION})`);
      }
      const session = typeof o['session'] === 'string' ? o['session'].slice(0, 200) : undefined;
      const masterVolumeId = typeof o['masterVolumeId'] === 'string' ? o['masterVolumeId'].slice(0, 200) : undefined;
      const identity = await server.identity();
      greeted = true;
      log.info({ session, masterVolumeId, root: displayPath(server.root) }, 'master connected');
      const capabilities: string[] = [...SLAVE_CAPABILITIES, ...(streams ? ['streams'] : []), ...(streams?.tar ? ['tar-streams'] : [])];
      const reply: HelloReply = { protocol: PROTOCOL_VERSION, capabilities, identity, rsyncTarget: opts.rsyncTarget, pid: process.pid };
      return reply;
    },
    run(p) {
      requireHello();
      if (!streams) throw gsyncdError('GSYNCD_ERR_RPC', 'this slave serves no streams');
      return streams.host.run(p);
    },
    async keepAlive() {
      keepAlives++;
      return { count: keepAlives };
    },
    async identity() {
      requireHello();
      return server.identity();
    },
    async list(p) {
      requireHello();
      const o = record(p, 'params');
      const dir = str(o, 'dir', 'params');
      const markKey = checkMarkKey(o['markKey']);
      return guarded('list', () => server.list(dir, markKey));
    },
    async readMark(p) {
      requireHello();
      const o = record(p, 'params');
      const dir = str(o, 'dir', 'params');
      const markKey = checkMarkKey(o['markKey']);
      return guarded('readMark', () => server.readMark(dir, markKey));
    },
    async apply(p) {
      requireHello();
      const o = record(p, 'params');
      const raw = o['ops'];
      if (!Array.isArray(raw) || raw.length > MAX_APPLY_OPS) throw badParams(`params.ops must be an array of at most ${MAX_APPLY_OPS} ops`);
      const ops = raw.map(checkOp);
      const markKey = checkMarkKey(o['markKey']);
      const results = await server.apply(ops, markKey);
      results.forEach((r, i) => {
        if (!r.ok && r.errno === 'GSYNCD_ERR_UNSAFE_PATH') log.warn({ method: 'apply', op: ops[i]!.op, index: i, refusal: refusalOf(r.message) }, r.message);
      });
      return results;
    },
  };
}

/** Serve one master session on (input, output) until EOF, inactivity or a protocol violation. */
export async function serveSlave(input: Readable, output: Writable, server: ServedSlave, opts: ServeSlaveOptions): Promise<RpcCloseReason> {
  let rpc: RpcServer | undefined;
  const host = opts.streams ? new StreamHost({ send: (bufs) => rpc?.sendRaw(bufs), decide: opts.streams.decide }) : null;
  const handlers = slaveHandlers(server, opts, host && opts.streams ? { host, tar: opts.streams.tar } : null);
  rpc = new RpcServer(input, output, opts.events ? opts.events.instrument(handlers) : handlers, {
    concurrency: opts.concurrency,
    timeoutSec: opts.timeoutSec,
    log: opts.log,
    maxFrame: opts.maxFrame,
    // A stream's run call lasts as long as its command: never behind the entry ops in the queue.
    immediate: ['keepAlive', 'run'],
    ...(host ? { onDataFrame: (f) => host.receive(f) } : {}),
  });
  opts.onServer?.(rpc);
  const reason = await rpc.closed;
  host?.closeAll();
  opts.events?.closed(reason);
  const level = reason.kind === 'eof' || reason.kind === 'local' ? 'info' : 'warn';
  opts.log[level]({ reason: reason.kind }, `session ended: ${reason.message}`);
  return reason;
}
