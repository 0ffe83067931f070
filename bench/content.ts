// Deterministic, incompressible file contents and the tree layouts of the workloads. The writer
// (bench/writer.ts, a separate process) and the visibility checks (bench/visible.ts) derive the
// same bytes from the same (seed, size), so nothing has to be staged or read back from the master.
import { createCipheriv, createHash } from 'node:crypto';

/** One file a workload writes: path relative to the tree root, size, content seed. */
export interface FileSpec {
  rel: string;
  size: number;
  seed: string;
}

function cipher(seed: string) {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
}

/** `size` pseudo-random bytes determined by `seed` (AES-128-CTR keystream: fast, incompressible). */
export function content(seed: string, size: number): Buffer {
  return cipher(seed).update(Buffer.alloc(size));
}

/** The same bytes as content(seed, size), in chunks (for big files). */
export function* contentChunks(seed: string, size: number, chunk = 1 << 20): Generator<Buffer> {
  const c = cipher(seed);
  const zeros = Buffer.alloc(chunk);
  for (let off = 0; off < size; off += chunk) yield c.update(zeros.subarray(0, Math.min(chunk, size - off)));
}

const hashCache = new Map<string, string>();
/** sha1 of content(seed, size), cached. */
export function contentHash(seed: string, size: number): string {
  const k = `${seed}\0${size}`;
  let h = hashCache.get(k);
  if (!h) {
    const s = createHash('sha1');
    for (const b of contentChunks(seed, size)) s.update(b);
    h = s.digest('hex');
    hashCache.set(k, h);
  }
  return h;
}

// ---------------------------------------------------------------------------------------------
// Layouts. Every layout is a pure function of its parameters, so writer and checker agree.

export type Layout =
  /** n files of `size` bytes spread round-robin over `dirs` directories below `prefix`. */
  | { kind: 'small'; prefix: string; n: number; dirs: number; size: number; tag: string; from?: number }
  /** n files of `size` bytes in `prefix`. */
  | { kind: 'big'; prefix: string; n: number; size: number; tag: string }
  /** Files from..n-1 of the scale tree: 10 x 10 x 10 leaf directories (file i in leaf i % 1000),
   *  plus a 10-deep chain holding the change target (written with from = 0). */
  | { kind: 'scale'; n: number; size: number; tag: string; from?: number };

export const SCALE_DEEP_DIR = 'deep/l1/l2/l3/l4/l5/l6/l7/l8/l9/l10';
export const SCALE_DEEP_FILE = `${SCALE_DEEP_DIR}/target`;

export function layoutDirs(l: Layout): string[] {
  switch (l.kind) {
    case 'small':
      return [l.prefix, ...Array.from({ length: l.dirs }, (_, d) => `${l.prefix}/d${d}`)];
    case 'big':
      return [l.prefix];
    case 'scale': {
      const out: string[] = [];
      for (let a = 0; a < 10; a++) {
        out.push(`s${a}`);
        for (let b = 0; b < 10; b++) {
          out.push(`s${a}/t${b}`);
          for (let c = 0; c < 10; c++) out.push(`s${a}/t${b}/u${c}`);
        }
      }
      const parts = SCALE_DEEP_DIR.split('/');
      for (let i = 1; i <= parts.length; i++) out.push(parts.slice(0, i).join('/'));
      return out;
    }
  }
}

export function layoutFiles(l: Layout): FileSpec[] {
  const out: FileSpec[] = [];
  switch (l.kind) {
    case 'small':
      for (let i = l.from ?? 0; i < l.n; i++) out.push({ rel: `${l.prefix}/d${i % l.dirs}/f${i}`, size: l.size, seed: `${l.tag}:${i}` });
      break;
    case 'big':
      for (let i = 0; i < l.n; i++) out.push({ rel: `${l.prefix}/big${i}`, size: l.size, seed: `${l.tag}:${i}` });
      break;
    case 'scale': {
      const from = l.from ?? 0;
      if (from === 0) out.push({ rel: SCALE_DEEP_FILE, size: l.size, seed: `${l.tag}:deep:0` });
      for (let i = from; i < l.n; i++) {
        const leaf = i % 1000;
        const a = Math.floor(leaf / 100);
        const b = Math.floor(leaf / 10) % 10;
        const c = leaf % 10;
        out.push({ rel: `s${a}/t${b}/u${c}/f${i}`, size: l.size, seed: `${l.tag}:${i}` });
      }
      break;
    }
  }
  return out;
}

export function totalBytes(files: readonly FileSpec[]): number {
  return files.reduce((s, f) => s + f.size, 0);
}
