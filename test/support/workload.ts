// Workloads for sync tests: a mixed initial tree with every awkward thing a user has (odd names,
// links, modes, owners, sparse and empty files), and the list of single changes the continuous
// mode must pick up one by one.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { setAttributeSync } from '@napi-rs/xattr';

/** A name with bytes that are not UTF-8 (fs accepts Buffer paths). */
export const NON_UTF8 = Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x2d, 0x6e, 0x61, 0x6d, 0x65]);

function p(root: string, ...parts: (string | Buffer)[]): Buffer {
  return Buffer.concat([Buffer.from(root), ...parts.flatMap((x) => [Buffer.from('/'), Buffer.isBuffer(x) ? x : Buffer.from(x)])]);
}

function write(file: Buffer | string, size: number, seed = 1): void {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) b.writeUInt32LE((seed * 2654435761 + i) >>> 0, i);
  fs.writeFileSync(file, b);
}

export interface MixedTreeOptions {
  /** Skip things the file system of this root cannot hold (e.g. fifos on some FUSE setups). */
  specials?: boolean;
  /** Size of the big file used by the rename test. */
  bigFileBytes?: number;
}

export function makeMixedTree(root: string, opts: MixedTreeOptions = {}): void {
  fs.mkdirSync(p(root, 'docs', 'deep', 'a', 'b', 'c', 'd'), { recursive: true });
  fs.mkdirSync(p(root, 'dir with spaces'));
  fs.mkdirSync(p(root, 'empty-dir'));
  write(p(root, 'small.txt'), 10);
  fs.writeFileSync(p(root, 'empty'), '');
  write(p(root, 'docs', 'report.bin'), 300_000, 2);
  write(p(root, 'docs', 'deep', 'a', 'b', 'c', 'd', 'leaf.txt'), 123, 3);
  write(p(root, 'dir with spaces', 'file with spaces.txt'), 50, 4);
  write(p(root, 'dir with spaces', 'line\nbreak'), 60, 5);
  write(p(root, '-leading-dash'), 70, 6);
  write(p(root, NON_UTF8), 80, 7);
  write(p(root, 'big.bin'), opts.bigFileBytes ?? 8 << 20, 8);
  // sparse: 1 MiB hole then data
  const fd = fs.openSync(p(root, 'sparse.img'), 'w');
  fs.writeSync(fd, Buffer.from('tail'), 0, 4, 1 << 20);
  fs.closeSync(fd);
  fs.symlinkSync('small.txt', p(root, 'link-rel'));
  fs.symlinkSync('/nonexistent/target', p(root, 'link-dangling'));
  fs.symlinkSync('docs', p(root, 'link-to-dir'));
  fs.linkSync(p(root, 'small.txt'), p(root, 'docs', 'hardlink-to-small'));
  write(p(root, 'private'), 20, 9);
  fs.chmodSync(p(root, 'private'), 0o600);
  write(p(root, 'script.sh'), 20, 10);
  fs.chmodSync(p(root, 'script.sh'), 0o4755);
  write(p(root, 'owned'), 20, 11);
  fs.chownSync(p(root, 'owned'), 1234, 5678);
  fs.utimesSync(p(root, 'docs', 'report.bin'), new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'));
  if (opts.specials !== false) execFileSync('mkfifo', [p(root, 'fifo').toString()]);
  // User extended attributes (binary values too) and POSIX ACLs, on files and directories.
  setAttributeSync(p(root, 'private').toString(), 'user.color', Buffer.from('red'));
  setAttributeSync(p(root, 'docs').toString(), 'user.bin', Buffer.from([0, 1, 2, 255]));
  execFileSync('setfacl', ['-m', 'u:4321:rw,g:8765:r', p(root, 'docs', 'report.bin').toString()]);
  execFileSync('setfacl', ['-d', '-m', 'u:4321:rx', p(root, 'docs', 'deep').toString()]);
}

export interface Change {
  readonly name: string;
  apply(root: string): void;
}

/** Each continuous-mode change of the core-sync issue, applied one at a time. */
export function continuousChanges(): Change[] {
  return [
    { name: 'create', apply: (r) => write(p(r, 'new-file.txt'), 1000, 20) },
    { name: 'append', apply: (r) => fs.appendFileSync(p(r, 'small.txt'), 'more data') },
    { name: 'truncate', apply: (r) => fs.truncateSync(p(r, 'docs', 'report.bin'), 1000) },
    { name: 'chmod', apply: (r) => fs.chmodSync(p(r, 'new-file.txt'), 0o640) },
    { name: 'chown', apply: (r) => fs.chownSync(p(r, 'new-file.txt'), 4321, 8765) },
    { name: 'utimes', apply: (r) => fs.utimesSync(p(r, 'empty'), new Date('2010-01-01T00:00:00Z'), new Date('2010-01-01T00:00:00Z')) },
    { name: 'mkdir', apply: (r) => fs.mkdirSync(p(r, 'docs', 'deep', 'new-dir')) },
    { name: 'rmdir', apply: (r) => fs.rmdirSync(p(r, 'empty-dir')) },
    { name: 'rename file across dirs', apply: (r) => fs.renameSync(p(r, 'new-file.txt'), p(r, 'docs', 'deep', 'new-dir', 'moved.txt')) },
    { name: 'rename dir', apply: (r) => fs.renameSync(p(r, 'dir with spaces'), p(r, 'docs', 'renamed dir')) },
    { name: 'hardlink', apply: (r) => fs.linkSync(p(r, 'docs', 'deep', 'a', 'b', 'c', 'd', 'leaf.txt'), p(r, 'leaf-link')) },
    { name: 'symlink', apply: (r) => fs.symlinkSync('docs/deep', p(r, 'new-symlink')) },
    // Attribute-only changes: nothing but the change time moves.
    { name: 'xattr only', apply: (r) => setAttributeSync(p(r, 'docs', 'report.bin').toString(), 'user.note', Buffer.from('reviewed')) },
    { name: 'ACL only', apply: (r) => execFileSync('setfacl', ['-m', 'u:5555:r', p(r, 'empty').toString()]) },
    { name: 'unlink', apply: (r) => fs.unlinkSync(p(r, '-leading-dash')) },
    { name: 'type swap file->dir', apply: (r) => { fs.unlinkSync(p(r, 'private')); fs.mkdirSync(p(r, 'private')); write(p(r, 'private', 'inside'), 5, 30); } },
    { name: 'type swap file->symlink', apply: (r) => { fs.unlinkSync(p(r, 'owned')); fs.symlinkSync('small.txt', p(r, 'owned')); } },
    { name: 'type swap dir->file', apply: (r) => { fs.rmSync(p(r, 'docs', 'deep', 'new-dir'), { recursive: true }); write(p(r, 'docs', 'deep', 'new-dir'), 7, 31); } },
    // The only name goes away while the object gets two new ones: a rename plus a link, not a copy.
    { name: 'hardlink pair replaces the only name', apply: (r) => { fs.linkSync(p(r, 'script.sh'), p(r, 'linked-a')); fs.linkSync(p(r, 'script.sh'), p(r, 'docs', 'linked-b')); fs.unlinkSync(p(r, 'script.sh')); } },
    // Two names of different hard-link groups swap objects: neither slave inode may be written in place.
    { name: 'swap two hard-linked names', apply: (r) => { fs.renameSync(p(r, 'linked-a'), p(r, '.swap')); fs.renameSync(p(r, 'small.txt'), p(r, 'linked-a')); fs.renameSync(p(r, '.swap'), p(r, 'small.txt')); } },
    { name: 'non-utf8 rename', apply: (r) => fs.renameSync(p(r, NON_UTF8), p(r, 'docs', NON_UTF8)) },
  ];
}

/** n small files spread over `dirs` directories (the bench's 10k workload, scaled). */
export function makeSmallFiles(root: string, n: number, dirs: number, size = 4096): void {
  for (let d = 0; d < dirs; d++) fs.mkdirSync(path.join(root, `d${d}`), { recursive: true });
  for (let i = 0; i < n; i++) write(path.join(root, `d${i % dirs}`, `f${i}`), size, i);
}

export function inodeOf(file: string): bigint {
  return fs.lstatSync(file, { bigint: true }).ino;
}
