// Checkpoints (OBSERVABILITY §2 rule 6): "tell me when everything written before T_c is on the
// slave". Pure functions; the worker persists the result in its state file.
//
//   parseCheckpointTime(text, nowMs)           'now' | Unix seconds | ISO-8601 → T_c (ms), '' → null
//   resolveCheckpoint(text, persisted, nowMs)  at start-up: keep, replace or clear the persisted one
//   checkpointProgress(cp, syncedUpTo, nowMs)  after each advance of synced_up_to: completed yet?
//
// All times are milliseconds on the master's clock, like SessionState.syncedUpTo.
import { gsyncdError } from './errors.js';

export interface Checkpoint {
  /** T_c, ms on the master clock. */
  readonly target: number;
  /** When synced_up_to first reached T_c (ms); recorded once. */
  readonly completedAt?: number;
  /** The configured text T_c came from: a changed text is a new checkpoint, the same `now` is not re-resolved. */
  readonly text?: string;
}

const UNIX_SECONDS = /^\d{1,12}(\.\d{1,9})?$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)$/i;
const ISO_NO_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$/i;

/**
 * T_c for a configured checkpoint: `now` (this instant, whole seconds), Unix seconds, or an
 * ISO-8601 date (UTC midnight) or date-time with `Z` or an offset. '' means no checkpoint.
 * Throws GSYNCD_ERR_BAD_OPTION_VALUE on anything else: a zone-less time would depend on the
 * machine's time zone, so it is refused rather than guessed.
 */
export function parseCheckpointTime(text: string, nowMs: number): number | null {
  const t = text.trim();
  if (t === '') return null;
  if (t.toLowerCase() === 'now') return Math.floor(nowMs / 1000) * 1000;
  let ms = NaN;
  if (UNIX_SECONDS.test(t)) ms = Math.round(Number(t) * 1000);
  else if (ISO_DATE.test(t)) ms = Date.parse(`${t}T00:00:00Z`);
  else if (ISO_DATE_TIME.test(t)) ms = Date.parse(t.replace(' ', 'T').replace(/([+-]\d{2})(\d{2})$/, '$1:$2').replace(/([+-]\d{2})$/, '$1:00'));
  else if (ISO_NO_ZONE.test(t)) {
    throw gsyncdError('GSYNCD_ERR_BAD_OPTION_VALUE', `checkpoint: ${JSON.stringify(text)} has no time zone; add Z or an offset such as +01:00`);
  }
  if (!Number.isFinite(ms) || ms <= 0) {
    throw gsyncdError('GSYNCD_ERR_BAD_OPTION_VALUE', `checkpoint: expected now, Unix seconds or ISO-8601 (e.g. 2026-11-25T14:00:00Z), got ${JSON.stringify(text)}`);
  }
  return ms;
}

/**
 * The checkpoint to run with, from the configured text and the persisted one. The same text
 * keeps the persisted checkpoint (so `now` is not re-resolved on restart, and the completion
 * stays recorded); another text is a new checkpoint (completion reset); '' clears it.
 * A persisted checkpoint without `text` (older state files) is kept when the text resolves to
 * the same T_c, or when the text is `now`.
 */
export function resolveCheckpoint(text: string, persisted: Checkpoint | undefined, nowMs: number): Checkpoint | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  if (persisted) {
    if (persisted.text !== undefined && persisted.text === trimmed) return persisted;
    if (persisted.text === undefined && trimmed.toLowerCase() === 'now') return { ...persisted, text: trimmed };
  }
  const target = parseCheckpointTime(trimmed, nowMs)!;
  if (persisted && persisted.text === undefined && persisted.target === target) return { ...persisted, text: trimmed };
  return { target, text: trimmed };
}

export interface CheckpointProgress {
  /** The checkpoint to keep (with completedAt set once it completed); undefined if none. */
  readonly checkpoint: Checkpoint | undefined;
  readonly completed: boolean;
  /** True exactly once: on the call that recorded the completion (log `checkpoint.completed`, persist). */
  readonly justCompleted: boolean;
}

/** Complete once synced_up_to ≥ T_c; the completion time is recorded once (`nowMs`). */
export function checkpointProgress(cp: Checkpoint | undefined, syncedUpTo: number | undefined, nowMs: number): CheckpointProgress {
  if (!cp) return { checkpoint: undefined, completed: false, justCompleted: false };
  if (cp.completedAt !== undefined) return { checkpoint: cp, completed: true, justCompleted: false };
  if (syncedUpTo !== undefined && syncedUpTo >= cp.target) return { checkpoint: { ...cp, completedAt: nowMs }, completed: true, justCompleted: true };
  return { checkpoint: cp, completed: false, justCompleted: false };
}
