// The slave agent's readiness and /status document from what the agent knows (sshd state, the
// root check, free space, sessions). Pure: agent-http.ts does the reads and serves them.
import { check, type CheckResult } from '../observe/http.js';
import { isoSeconds } from '../observe/status.js';
import type { SessionView } from './agent-core.js';
import type { SshdState } from './agent-sshd-supervisor.js';

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

/** /readyz: sshd accepting on loopback, the root writable, not shutting down. */
export function readinessChecks(sshd: SshdState, root: CheckResult, stopping: boolean): CheckResult[] {
  return [check('sshd', sshd.up, sshd.running ? 'not_accepting' : 'not_running'), root, check('shutdown', !stopping, 'shutting_down')];
}

export interface SlaveStatusInput {
  readonly version: string;
  readonly root: string;
  readonly nowMs: number;
  readonly sshd: SshdState;
  /** Liveness and readiness checks, in that order. */
  readonly checks: readonly CheckResult[];
  readonly freeBytes: number | null;
  readonly sessions: readonly SessionView[];
}

export function slaveStatusDoc(i: SlaveStatusInput): SlaveStatusDoc {
  const s = i.sshd;
  return {
    role: 'slave', version: i.version, checked_at: isoSeconds(i.nowMs) ?? '', root: i.root,
    ready: i.checks.every((c) => c.ok), checks: i.checks,
    sshd: {
      up: s.up, running: s.running, pid: s.pid, port: s.port, restarts: s.restarts, started_at: isoSeconds(s.startedAt),
      last_exit: s.lastExit ? { code: s.lastExit.code, signal: s.lastExit.signal, at: isoSeconds(s.lastExit.at) } : null,
    },
    root_writable: i.checks.find((c) => c.name === 'root')?.ok ?? false,
    root_free_bytes: i.freeBytes,
    sessions: i.sessions,
  };
}
