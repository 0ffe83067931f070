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

/** `noop`: the slave already was as the op asks (a link between names of one object). */
export type OpResult = { ok: true; noop?: true } | { ok: false; errno: string; message: string };

export const OK: OpResult = Object.freeze({ ok: true });
export const NOOP: OpResult = Object.freeze({ ok: true, noop: true });

export function opPaths(op: EntryOp): BytePath[] {
  switch (op.op) {
    case 'rename': return [op.from, op.to];
    case 'link': return [op.existing, op.path];
    default: return [op.path];
  }
}

/**
 * Split ops (in their planned order) into consecutive waves whose ops touch unrelated paths: no
 * op of a wave names a path equal to, above or below a path another op of the same wave names.
 * Ops of one wave commute, so they may run concurrently; waves run one after the other, so any
 * two ops on related paths (a rename chain, a directory and its children, a mkdir and what goes
 * into it) keep their planned order. Returns the ops' indices, wave by wave.
 */
export function independentWaves(ops: readonly EntryOp[]): number[][] {
  const waves: number[][] = [];
  let wave: number[] = [];
  let named = new Set<BytePath>();
  let above = new Set<BytePath>();
  ops.forEach((op, i) => {
    const paths = opPaths(op);
    const conflicts = paths.some((p) => named.has(p) || above.has(p) || ancestorsOf(p).some((a) => named.has(a)));
    if (conflicts && wave.length > 0) {
      waves.push(wave);
      wave = [];
      named = new Set();
      above = new Set();
    }
    wave.push(i);
    for (const p of paths) {
      named.add(p);
      for (const a of ancestorsOf(p)) above.add(a);
    }
  });
  if (wave.length > 0) waves.push(wave);
  return waves;
}

/** Proper ancestors of a relative path, the root ('') included; none for the root itself. */
function ancestorsOf(p: BytePath): BytePath[] {
  if (p === '') return [];
  const out: BytePath[] = [''];
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) out.push(p.slice(0, i));
  return out;
}
