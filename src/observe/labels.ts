// The bounded label-value sets of every gsyncd metric (OBSERVABILITY §3.2), declared once.
//
// Label values come only from these enums plus `session` (the validated session name) and
// `brick` (the worker index "0"…"N-1"). Paths, URLs, GFIDs, error texts, PIDs and peer
// addresses are never label values: they go to the logs and /status. Host and volume names
// appear only as labels of the `_info` metrics.
//
//   assertSession(name) / assertBrick(index)   refuse anything else before it becomes a label
//   workerStateLabel(s)                        the worker's state as a gsyncd_worker_state value
//   entryOpLabel(op)                           an EntryOp as an `op` value (null: not counted)
import type { EntryOp } from '../core/ops.js';
import { haltReasons, type HaltReason } from '../core/safety.js';
import { crawlStates, type CrawlState, type WorkerState } from '../core/states.js';
import type { SshConnectResult } from '../protocol/connect.js';
import type { RsyncResult } from '../transport/rsync.js';

export const roles = ['master', 'slave'] as const;
export type Role = (typeof roles)[number];

/** What is pending or applied: `type` label of gsyncd_pending_operations. */
export const opTypes = ['entry', 'data', 'meta'] as const;
export type OpType = (typeof opTypes)[number];

export const opLabels = ['create', 'mkdir', 'unlink', 'rmdir', 'rename', 'link', 'symlink', 'setattr', 'data'] as const;
export type OpLabel = (typeof opLabels)[number];

export const opResults = ['success', 'error', 'noop'] as const;
export type OpResultLabel = (typeof opResults)[number];

export const batchPhases = ['crawl', 'entry', 'data', 'meta', 'stime'] as const;
export type BatchPhase = (typeof batchPhases)[number];

/** rsync exit classes: 23 = partial, 24 = vanished (a success with a warning). */
export const rsyncResults = ['ok', 'partial', 'vanished', 'error'] as const satisfies readonly RsyncResult[];

/** slave_command_failed / version_mismatch: logged in, but --remote-gsyncd did not start a gsyncd that speaks our protocol. */
export const sshResults = ['ok', 'refused', 'timeout', 'auth_failed', 'host_key_rejected', 'slave_command_failed', 'version_mismatch', 'error'] as const satisfies readonly SshConnectResult[];
export type SshResult = (typeof sshResults)[number];

export const skipReasons = ['permission_denied', 'unsupported_type', 'gfid_conflict', 'retries_exhausted', 'other'] as const;
export type SkipReason = (typeof skipReasons)[number];

export { haltReasons, type HaltReason };
export { crawlStates, type CrawlState };

/**
 * gsyncd_worker_state values (§3.2). The worker's own enum also has `halted`; a halted worker
 * replicates nothing and is exported as `stopped`, the halt itself as gsyncd_safety_halted.
 */
export const workerStateLabels = ['initializing', 'active', 'passive', 'faulty', 'paused', 'stopped'] as const;
export type WorkerStateLabel = (typeof workerStateLabels)[number];

export function workerStateLabel(s: WorkerState): WorkerStateLabel {
  return s === 'halted' ? 'stopped' : s;
}

export function crawlStateLabel(s: string): CrawlState | null {
  return (crawlStates as readonly string[]).includes(s) ? (s as CrawlState) : null;
}

export const masterKinds = ['gluster', 'file'] as const;
export type ResourceKind = (typeof masterKinds)[number];

/** --sync-method (core/sync-method.ts). */
export const syncMethods = ['rsync', 'tar', 'auto'] as const;
export type SyncMethod = (typeof syncMethods)[number];

/** Slave side: why a request was refused (`session="unknown"` before the handshake). */
export const refusalReasons = ['path_escape', 'absolute_path', 'symlink_escape', 'nul_byte', 'bad_frame', 'version_mismatch', 'forbidden_command'] as const;
export type RefusalReason = (typeof refusalReasons)[number];

/** The session label before the slave has seen a handshake. */
export const unknownSession = 'unknown';

const SESSION = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const BRICK = /^(0|[1-9][0-9]{0,3})$/;

/** Throws on anything that is not a session name: a path or an error text must never become a label. */
export function assertSession(session: string): string {
  if (!SESSION.test(session)) throw new TypeError(`not a session name usable as a metric label: ${JSON.stringify(session.slice(0, 80))}`);
  return session;
}

/** Throws unless `brick` is a worker index "0"…"9999". */
export function assertBrick(brick: string): string {
  if (!BRICK.test(brick)) throw new TypeError(`not a brick index usable as a metric label: ${JSON.stringify(brick.slice(0, 80))}`);
  return brick;
}

/**
 * An entry op as an `op` label. `delete` splits by type; `mark` (the stime stamp) is not an
 * operation on user data and is not counted. Files, symlinks and specials arrive by rsync (`data`).
 */
export function entryOpLabel(op: EntryOp): OpLabel | null {
  switch (op.op) {
    case 'mkdir': return 'mkdir';
    case 'rename': return 'rename';
    case 'link': return 'link';
    case 'setattr': return 'setattr';
    case 'delete': return op.type === 'dir' ? 'rmdir' : 'unlink';
    case 'mark': return null;
  }
}
