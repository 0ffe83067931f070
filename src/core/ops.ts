// Entry operations the slave applies, and the per-op result it confirms.
import type { BytePath } from './bytepath.js';
import type { EntryType } from './entry.js';
import type { Xtime } from './xtime.js';

export type EntryOp =
  | { op: 'mkdir'; path: BytePath; mode: number; uid: number; gid: number }
  /** Move an existing slave entry (rename kept as such: no data re-sent). */
  | { op: 'rename'; from: BytePath; to: BytePath }
  /** New name for an object the slave already has (hard link kept as such). */
  | { op: 'link'; existing: BytePath; path: BytePath }
  /** Remove a slave entry; directories recursively, never following symlinks. */
  | { op: 'delete'; path: BytePath; type: EntryType }
  | { op: 'setattr'; path: BytePath; mode?: number; uid?: number; gid?: number; mtime?: [number, number] }
  | { op: 'mark'; path: BytePath; xtime: Xtime };

export type OpResult = { ok: true } | { ok: false; errno: string; message: string };

export const OK: OpResult = Object.freeze({ ok: true });

export function opPaths(op: EntryOp): BytePath[] {
  switch (op.op) {
    case 'rename': return [op.from, op.to];
    case 'link': return [op.existing, op.path];
    default: return [op.path];
  }
}
