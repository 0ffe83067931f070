// Session events for the slave agent (OBSERVABILITY §3.4): `gsyncd --slave` processes and the
// forced-command dispatcher send one NDJSON line per event to the agent's UNIX socket,
// fire-and-forget. Nothing here may block or break the data path: the connection is made
// lazily, at most one attempt per `retryMs`, writes never wait, and every error is swallowed
// (events are dropped while the agent is absent).
//
//   const events = agentEmitter();                       // $GSYNCD_AGENT_SOCKET or /run/gsyncd/agent.sock
//   events.emit({ type: 'refusal', session: 'unknown', reason: 'forbidden_command' });
//   await events.flush(500);                             // short-lived processes only: bounded
//
//   const s = slaveSessionEvents(agentEmitter(), { conn: connOf(process.env) });
//   new RpcServer(input, output, s.instrument(handlers));  … s.closed(reason);
//
// Events (one JSON object per line; `at` is Unix ms):
//   {type:'session', session, connected, conn?}     a master session attached / detached
//   {type:'request', session, at}                   last RPC from the master (≤ 1 per second per session)
//   {type:'entry_ops', session, op, result, n}      entry ops applied, counted by op and result
//   {type:'rsync', session, result, conn?}          an `rsync --server` run ended (exit class)
//   {type:'refusal', session, reason, conn?}        a refused request; session 'unknown' before the handshake
// `conn` is the SSH connection ("ip port" of SSH_CLIENT): the agent uses it only to attribute
// the dispatcher's rsync runs and refusals to the session on the same connection. It is never a
// label value and never logged by the agent.
import net from 'node:net';
import {
  assertSession, entryOpLabel, opLabels, opResults, refusalReasons, rsyncResults, unknownSession,
  type OpLabel, type OpResultLabel, type RefusalReason,
} from '../observe/labels.js';
import type { EntryOp, OpResult } from '../core/ops.js';
import { classifyRsyncExit, type RsyncResult } from '../transport/rsync.js';
import { type RpcHandler } from '../transport/rpc.js';
import { PROTOCOL_VERSION, type RpcCloseReason } from '../protocol/messages.js';

export const defaultAgentSocket = '/run/gsyncd/agent.sock';

export type AgentEvent =
  | { readonly type: 'session'; readonly session: string; readonly connected: boolean; readonly conn?: string }
  | { readonly type: 'request'; readonly session: string; readonly at: number }
  | { readonly type: 'entry_ops'; readonly session: string; readonly op: OpLabel; readonly result: OpResultLabel; readonly n: number }
  | { readonly type: 'rsync'; readonly session: string; readonly result: RsyncResult; readonly conn?: string }
  | { readonly type: 'refusal'; readonly session: string; readonly reason: RefusalReason; readonly conn?: string };

/** Longest event line either side accepts. */
export const MAX_EVENT_LINE = 4096;
const MAX_CONN = 128;

export interface AgentEmitter {
  /** Queue one event; never throws, never waits. Dropped when the agent is absent. */
  emit(event: AgentEvent): void;
  /** Wait (at most timeoutMs) until what was emitted has been handed to the agent's socket or dropped. */
  flush(timeoutMs?: number): Promise<void>;
  /** Stop sending; later emits are dropped. */
  close(): void;
}

export interface AgentEmitterOptions {
  /** Least time between two connection attempts (ms). Default 3000. */
  readonly retryMs?: number;
  /** Events kept while a connection attempt is in flight. Default 256. */
  readonly maxQueue?: number;
  /** Bytes buffered in the socket beyond which events are dropped (agent not reading). Default 256 KiB. */
  readonly maxBuffered?: number;
  readonly now?: () => number;
}

const noopEmitter: AgentEmitter = { emit() {}, flush: async () => {}, close() {} };

/**
 * An emitter to the agent at `socketPath` ('' disables it). `session` events with
 * `connected: true` are remembered and sent again on every new connection, so an agent that
 * restarts learns which sessions are attached.
 */
export function agentEmitter(socketPath: string = process.env['GSYNCD_AGENT_SOCKET'] ?? defaultAgentSocket, opts: AgentEmitterOptions = {}): AgentEmitter {
  if (socketPath === '') return noopEmitter;
  const retryMs = opts.retryMs ?? 3000;
  const maxQueue = opts.maxQueue ?? 256;
  const maxBuffered = opts.maxBuffered ?? 256 * 1024;
  const now = opts.now ?? Date.now;
  let sock: net.Socket | null = null;
  let state: 'idle' | 'connecting' | 'open' = 'idle';
  let lastAttempt = -Infinity;
  let closed = false;
  const queue: string[] = [];
  const sticky = new Map<string, string>();

  const write = (s: net.Socket, line: string) => {
    try {
      if (s.writableLength < maxBuffered) s.write(line);
    } catch { /* dropped */ }
  };

  const connect = () => {
    lastAttempt = now();
    state = 'connecting';
    let s: net.Socket;
    try {
      s = net.createConnection(socketPath);
    } catch {
      state = 'idle';
      queue.length = 0;
      return;
    }
    s.unref();
    s.on('error', () => { /* absent or gone: events are dropped */ });
    s.on('data', () => { /* the agent sends nothing; never let data pile up */ });
    s.once('connect', () => {
      if (closed) { s.destroy(); return; }
      sock = s;
      state = 'open';
      for (const line of sticky.values()) write(s, line);
      for (const line of queue.splice(0)) write(s, line);
    });
    s.once('close', () => {
      if (sock === s) sock = null;
      state = 'idle';
      queue.length = 0;
    });
  };

  return {
    emit(event) {
      if (closed) return;
      let line: string;
      try {
        line = JSON.stringify(event) + '\n';
      } catch {
        return;
      }
      if (line.length > MAX_EVENT_LINE) return;
      const replayed = event.type === 'session' && event.connected;
      if (event.type === 'session') {
        if (event.connected) sticky.set(event.session, line);
        else sticky.delete(event.session);
      }
      if (state === 'open' && sock) { write(sock, line); return; }
      if (state === 'idle') {
        if (now() - lastAttempt < retryMs) return;
        connect();
      }
      // connecting: remembered sessions are sent first on connect anyway
      if (state === 'connecting' && !replayed && queue.length < maxQueue) queue.push(line);
    },

    flush(timeoutMs = 500) {
      const deadline = now() + timeoutMs;
      return new Promise<void>((resolve) => {
        const poll = () => {
          const pending = state === 'connecting' || (state === 'open' && sock !== null && sock.writableLength > 0);
          if (!pending || now() >= deadline) { resolve(); return; }
          setTimeout(poll, 5); // ref'd on purpose: a process about to exit waits this long at most
        };
        poll();
      });
    },

    close() {
      closed = true;
      queue.length = 0;
      sticky.clear();
      try { sock?.end(); } catch { /* gone */ }
    },
  };
}

/** "ip port" of SSH_CLIENT: identifies the SSH connection a process was started for. */
export function connOf(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const parts = (env['SSH_CLIENT'] ?? '').trim().split(/\s+/);
  if (parts.length < 2 || !/^[0-9A-Fa-f:.]{2,64}$/.test(parts[0]!) || !/^\d{1,5}$/.test(parts[1]!)) return undefined;
  return `${parts[0]} ${parts[1]}`;
}

/** The session label for a name the master sent in hello: itself when valid, else 'unknown'. */
export function sessionLabel(name: unknown): string {
  if (typeof name !== 'string') return unknownSession;
  try {
    return assertSession(name);
  } catch {
    return unknownSession;
  }
}

/**
 * A refusal reason (the dispatcher's, the path guard's) as a `reason` label. Anything outside the
 * frozen set maps to its nearest member: a disallowed option makes the command forbidden, a
 * malformed path is an unsafe path.
 */
export function refusalLabel(reason: string): RefusalReason {
  if ((refusalReasons as readonly string[]).includes(reason)) return reason as RefusalReason;
  if (reason === 'bad_path' || reason === 'unsafe_path') return 'path_escape';
  return 'forbidden_command';
}

/** Validate one decoded line (the agent's side); null when it is not an event we know. */
export function parseAgentEvent(v: unknown): AgentEvent | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const session = o['session'];
  if (typeof session !== 'string' || sessionLabel(session) !== session) return null;
  const conn = typeof o['conn'] === 'string' && o['conn'].length <= MAX_CONN ? { conn: o['conn'] } : {};
  switch (o['type']) {
    case 'session':
      return typeof o['connected'] === 'boolean' ? { type: 'session', session, connected: o['connected'], ...conn } : null;
    case 'request': {
      const at = o['at'];
      return typeof at === 'number' && Number.isFinite(at) && at > 0 ? { type: 'request', session, at } : null;
    }
    case 'entry_ops': {
      const { op, result, n } = o;
      if (typeof op !== 'string' || op === 'data' || !(opLabels as readonly string[]).includes(op)) return null;
      if (typeof result !== 'string' || !(opResults as readonly string[]).includes(result)) return null;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1_000_000) return null;
      return { type: 'entry_ops', session, op: op as OpLabel, result: result as OpResultLabel, n };
    }
    case 'rsync': {
      const result = o['result'];
      return typeof result === 'string' && (rsyncResults as readonly string[]).includes(result) ? { type: 'rsync', session, result: result as RsyncResult, ...conn } : null;
    }
    case 'refusal': {
      const reason = o['reason'];
      return typeof reason === 'string' && (refusalReasons as readonly string[]).includes(reason) ? { type: 'refusal', session, reason: reason as RefusalReason, ...conn } : null;
    }
    default:
      return null;
  }
}

// ─── one `gsyncd --slave` session ──────────────────────────────────────────────────────────

export interface SlaveSessionEvents {
  /** Wrap the session's RPC handlers: hello, every request, apply results and refusals become events. */
  instrument(handlers: Record<string, RpcHandler>): Record<string, RpcHandler>;
  /** The session ended (sends connected: false; a protocol violation counts as a bad_frame refusal). */
  closed(reason: RpcCloseReason): void;
  flush(timeoutMs?: number): Promise<void>;
}

export interface SlaveSessionEventsOptions {
  /** The SSH connection this session came in on (connOf(process.env)). */
  readonly conn?: string;
  /** Least time between two request events of the session (ms). Default 1000. */
  readonly requestIntervalMs?: number;
  readonly now?: () => number;
}

const UNSAFE = /unsafe path refused \((\w+)\)/;

export function slaveSessionEvents(emitter: AgentEmitter, opts: SlaveSessionEventsOptions = {}): SlaveSessionEvents {
  const now = opts.now ?? Date.now;
  const interval = opts.requestIntervalMs ?? 1000;
  const conn = opts.conn === undefined ? {} : { conn: opts.conn };
  let session = unknownSession;
  let greeted = false;
  let ended = false;
  let lastSent = -Infinity;
  let latest = 0;
  let trailing: NodeJS.Timeout | undefined;

  const send = (ev: AgentEvent) => { try { emitter.emit(ev); } catch { /* never */ } };
  const sendRequest = () => {
    trailing = undefined;
    lastSent = now();
    send({ type: 'request', session, at: latest });
  };
  /** Rate-limited: at most one event per interval; the last request of a burst is sent at its end. */
  const request = () => {
    if (ended) return;
    latest = now();
    if (latest - lastSent >= interval) { sendRequest(); return; }
    if (!trailing) {
      trailing = setTimeout(sendRequest, Math.max(0, interval - (latest - lastSent)));
      trailing.unref();
    }
  };
  const refusal = (reason: string) => send({ type: 'refusal', session, reason: refusalLabel(reason), ...conn });

  const applied = (ops: unknown, results: unknown) => {
    if (!Array.isArray(ops) || !Array.isArray(results)) return;
    const counts = new Map<string, number>();
    results.forEach((r: OpResult, i) => {
      const label = entryOpLabel(ops[i] as EntryOp);
      if (!label || typeof r !== 'object' || r === null) return;
      const result: OpResultLabel = r.ok ? 'success' : 'error';
      counts.set(`${label} ${result}`, (counts.get(`${label} ${result}`) ?? 0) + 1);
      if (!r.ok && r.errno === 'GSYNCD_ERR_UNSAFE_PATH') refusal(UNSAFE.exec(r.message)?.[1] ?? 'unsafe_path');
    });
    for (const [key, n] of counts) {
      const [op, result] = key.split(' ') as [OpLabel, OpResultLabel];
      send({ type: 'entry_ops', session, op, result, n });
    }
  };

  /** An in-band stream's rsync ended: counted as the dispatcher counts the rsync it runs. */
  const ranInBand = (argv: unknown, result: unknown) => {
    const code = (result as { code?: unknown } | null)?.code;
    if (Array.isArray(argv) && argv[0] === 'rsync' && typeof code === 'number') send({ type: 'rsync', session, result: classifyRsyncExit(code), ...conn });
  };

  return {
    instrument(handlers) {
      const out: Record<string, RpcHandler> = {};
      for (const [method, fn] of Object.entries(handlers)) {
        out[method] = async (params: unknown) => {
          let result: unknown;
          try {
            result = await fn(params);
          } catch (err) {
            try {
              const p = params as Record<string, unknown> | null;
              if (method === 'hello' && typeof p?.['protocol'] === 'number' && Math.trunc(p['protocol']) !== PROTOCOL_VERSION) refusal('version_mismatch');
              const e = err as { code?: unknown; refusal?: unknown };
              if (e?.code === 'GSYNCD_ERR_UNSAFE_PATH') refusal(typeof e.refusal === 'string' ? e.refusal : 'unsafe_path');
              else if (method === 'run' && typeof e?.refusal === 'string') refusal(e.refusal);
              if (greeted) request();
            } catch { /* never */ }
            throw err;
          }
          try {
            if (method === 'hello' && !greeted) {
              greeted = true;
              session = sessionLabel((params as Record<string, unknown> | null)?.['session']);
              send({ type: 'session', session, connected: true, ...conn });
            }
            if (method === 'apply') applied((params as Record<string, unknown> | null)?.['ops'], result);
            if (method === 'run') ranInBand((params as Record<string, unknown> | null)?.['argv'], result);
            request();
          } catch { /* never */ }
          return result;
        };
      }
      return out;
    },

    closed(reason) {
      if (ended) return;
      ended = true;
      if (trailing) { clearTimeout(trailing); sendRequest(); }
      if (reason.kind === 'protocol_violation') refusal('bad_frame');
      if (greeted) send({ type: 'session', session, connected: false, ...conn });
    },

    flush: (timeoutMs) => emitter.flush(timeoutMs),
  };
}
