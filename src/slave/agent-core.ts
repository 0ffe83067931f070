// Session events → slave metrics: the agent's in-memory view of the master sessions (who is
// attached through how many `gsyncd --slave` processes, last request, entry ops, rsync runs,
// refusals), and the NDJSON framing of the event socket. No I/O: the socket is agent-socket.ts.
import type { Logger } from '../log/logger.js';
import { unknownSession } from '../observe/labels.js';
import type { SlaveMetrics } from '../observe/metrics.js';
import { isoSeconds } from '../observe/status.js';
import { parseAgentEvent, type AgentEvent } from './agent-events.js';

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

/** The complete lines received so far (blank ones skipped) and the unfinished rest to keep. */
export function takeEventLines(buf: string): { lines: string[]; rest: string } {
  const lines: string[] = [];
  let nl: number;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    if (line.trim() !== '') lines.push(line);
  }
  return { lines, rest: buf };
}

/** One NDJSON line as an event; null when it is not JSON or not an event this version knows. */
export function parseEventLine(line: string): AgentEvent | null {
  try { return parseAgentEvent(JSON.parse(line)); } catch { return null; }
}
