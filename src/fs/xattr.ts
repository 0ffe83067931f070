// Extended attributes through @napi-rs/xattr (no getfattr per file). The package takes UTF-8
// string paths, so a path with non-UTF-8 bytes is reached through /proc/self/fd of an O_PATH-like
// open of the entry itself (directories and regular files only; never follows a final symlink).
import fs from 'node:fs';
import { getAttribute, setAttribute, removeAttribute } from '@napi-rs/xattr';

const isValidUtf8 = (b: Buffer): boolean => Buffer.from(b.toString('utf8'), 'utf8').equals(b);

async function withPath<T>(p: Buffer, fn: (path: string) => Promise<T>): Promise<T> {
  if (isValidUtf8(p) && !p.includes(0)) return fn(p.toString('utf8'));
  const fh = await fs.promises.open(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    return await fn(`/proc/self/fd/${fh.fd}`);
  } finally {
    await fh.close();
  }
}

/** The value, or null when the attribute is absent (ENODATA) or the entry vanished (ENOENT). */
export async function getXattr(p: Buffer, name: string): Promise<Buffer | null> {
  try {
    return await withPath(p, (s) => getAttribute(s, name));
  } catch (err) {
    if (isAbsent(err)) return null;
    throw err;
  }
}

export async function setXattr(p: Buffer, name: string, value: Buffer): Promise<void> {
  await withPath(p, (s) => setAttribute(s, name, value));
}

export async function removeXattr(p: Buffer, name: string): Promise<void> {
  try {
    await withPath(p, (s) => removeAttribute(s, name));
  } catch (err) {
    if (!isAbsent(err)) throw err;
  }
}

function isAbsent(err: unknown): boolean {
  const text = String((err as Error)?.message ?? err);
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENODATA' || /ENODATA|No data available|No such attribute|ENOENT|No such file/i.test(text);
}

/** Namespace for gsyncd's own marks: trusted.* needs root (and is what GlusterFS expects). */
export function markNamespace(): string {
  return process.getuid?.() === 0 ? 'trusted' : 'user';
}
