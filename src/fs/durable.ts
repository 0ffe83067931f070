// Writes that survive a crash: data fsynced before it is renamed into place, the directory
// fsynced after, so a reader sees the old file or the new one, never a torn one.
import fs from 'node:fs';
import path from 'node:path';

export function writeFileDurably(file: string, data: string | Buffer): void {
  const fd = fs.openSync(file, 'w', 0o600);
  try {
    if (typeof data === 'string') fs.writeSync(fd, data);
    else fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}

/** Replace `file` atomically with `data`: temp file, fsync, rename, fsync the directory. */
export function atomicWrite(file: string, data: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp.${process.pid}`;
  writeFileDurably(tmp, data);
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}
