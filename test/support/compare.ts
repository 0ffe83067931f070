// Tree comparison for integration tests: `diff -r` (real tool) plus a stat/xattr walk that
// checks type, mode, owner, mtime (files and symlinks; directories optional), symlink targets,
// size, hard-link groups and user.* xattrs. Returns a list of differences (empty = identical).
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { listAttributesSync, getAttributeSync } from '@napi-rs/xattr';

const exec = promisify(execFile);

export interface CompareOptions {
  /** Compare directory mtimes too (default true). */
  dirTimes?: boolean;
  /** Names to ignore at the root of both trees (e.g. '.gfid' on aux mounts). */
  ignoreRoot?: string[];
  /** Extended attribute names not compared (e.g. what a slave kind cannot store). */
  ignoreXattrs?: string[];
}

interface Node {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: bigint;
  target?: string;
  ino: bigint;
  nlink: number;
  xattrs: string;
}

function typeOf(st: fs.BigIntStats): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return 'device';
}

function userXattrs(p: Buffer, type: string, ignore: ReadonlySet<string>): string {
  if (type !== 'file' && type !== 'dir') return '';
  const s = p.toString('utf8');
  if (!Buffer.from(s, 'utf8').equals(p)) return ''; // the napi binding takes UTF-8 paths only
  try {
    // User attributes and POSIX ACLs are mirrored; other namespaces are the hosts' own.
    return listAttributesSync(s).filter((n) => (n.startsWith('user.') || n.startsWith('system.posix_acl_')) && !ignore.has(n)).sort()
      .map((n) => `${n}=${getAttributeSync(s, n)?.toString('hex')}`).join(',');
  } catch {
    return '';
  }
}

function walk(root: Buffer, ignoreRoot: Set<string>, ignoreXattrs: ReadonlySet<string>): Map<string, Node> {
  const out = new Map<string, Node>();
  const visit = (rel: Buffer) => {
    const abs = rel.length ? Buffer.concat([root, Buffer.from('/'), rel]) : root;
    const st = fs.lstatSync(abs, { bigint: true });
    const type = typeOf(st);
    out.set(rel.toString('latin1'), {
      type, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid),
      size: type === 'file' ? Number(st.size) : 0, mtimeNs: st.mtimeNs,
      target: type === 'symlink' ? fs.readlinkSync(abs, { encoding: 'buffer' }).toString('latin1') : undefined,
      ino: st.ino, nlink: Number(st.nlink), xattrs: userXattrs(abs, type, ignoreXattrs),
    });
    if (type !== 'dir') return;
    for (const name of fs.readdirSync(abs, { encoding: 'buffer' })) {
      if (!rel.length && ignoreRoot.has(name.toString('latin1'))) continue;
      visit(rel.length ? Buffer.concat([rel, Buffer.from('/'), name]) : name);
    }
  };
  visit(Buffer.alloc(0));
  return out;
}

/** Differences between two trees as readable lines; [] when identical. */
export function compareTrees(master: string, slave: string, opts: CompareOptions = {}): string[] {
  const ignore = new Set(opts.ignoreRoot ?? []);
  const ignoreXattrs = new Set(opts.ignoreXattrs ?? []);
  const a = walk(Buffer.from(master), ignore, ignoreXattrs);
  const b = walk(Buffer.from(slave), ignore, ignoreXattrs);
  const diffs: string[] = [];
  const show = (p: string) => JSON.stringify(Buffer.from(p, 'latin1').toString('utf8') || '.');
  for (const [p, m] of a) {
    const s = b.get(p);
    if (!s) { diffs.push(`missing on slave: ${show(p)} (${m.type})`); continue; }
    const fields: (keyof Node)[] = ['type', 'mode', 'uid', 'gid', 'size', 'target', 'xattrs'];
    if (m.type !== 'dir' || opts.dirTimes !== false) fields.push('mtimeNs');
    for (const f of fields) {
      if (p === '' && f === 'mtimeNs') continue; // roots are different directories
      if (String(m[f]) !== String(s[f])) diffs.push(`${show(p)}: ${f} master=${String(m[f])} slave=${String(s[f])}`);
    }
  }
  for (const [p, s] of b) if (!a.has(p)) diffs.push(`extra on slave: ${show(p)} (${s.type})`);
  // Hard-link groups: names sharing an inode on the master must share one on the slave.
  const groups = new Map<bigint, string[]>();
  // Grouped by inode, not by link count (a FUSE mount may report a stale count).
  for (const [p, m] of a) if (m.type === 'file') groups.set(m.ino, [...(groups.get(m.ino) ?? []), p]);
  for (const names of groups.values()) {
    const inos = new Set(names.map((p) => b.get(p)?.ino));
    if (names.length > 1 && inos.size !== 1) diffs.push(`hard links not kept: ${names.map(show).join(' ')}`);
  }
  return diffs;
}

/** The real `diff -r` (no dereferencing issues: --no-dereference). Returns its output, '' when equal. */
export async function diffR(master: string, slave: string, exclude: string[] = []): Promise<string> {
  try {
    await exec('diff', ['-r', '--no-dereference', ...exclude.flatMap((x) => ['-x', x]), master, slave], { maxBuffer: 64 << 20 });
    return '';
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    // diff cannot compare special files and says so even when both sides have the same type;
    // types, modes and times of those are checked by compareTrees.
    const sameSpecial = /^File .* is a (fifo|socket|character special file|block special file) while file .* is a \1$/;
    if (e.code === 1) return (e.stdout ?? 'differ').split('\n').filter((l) => l && !sameSpecial.test(l)).join('\n');
    throw err;
  }
}

export function rel(...parts: string[]): string {
  return path.join(...parts);
}
