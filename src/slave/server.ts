// The slave's operations against its root directory: listings, entry ops, marks. The same object
// serves a local slave in-process and a remote one behind the RPC server, so both behave alike.
import fs from 'node:fs';
import os from 'node:os';
import { baseName, displayPath, joinRel, parentOf, type BytePath } from '../core/bytepath.js';
import type { SlaveEntry } from '../core/entry.js';
import { gsyncdError } from '../core/errors.js';
import { independentWaves, NOOP, OK, opPaths, type EntryOp, type OpResult } from '../core/ops.js';
import { checkRelPath } from '../core/path-guard.js';
import { decodeXtime, encodeXtime, type Xtime } from '../core/xtime.js';
import { absPath, listDir, lstatEntry } from '../fs/tree.js';
import { getXattr, setXattr } from '../fs/xattr.js';
import type { SlaveIdentity } from '../protocol/endpoint.js';

/** Entry ops in flight at once (each is a few round trips on a FUSE slave). */
const APPLY_PARALLELISM = 16;

export class SlaveServer {
  private tmpSeq = 0;

  constructor(readonly root: string) {}

  async identity(): Promise<SlaveIdentity> {
    const st = await fs.promises.stat(this.root, { bigint: true });
    if (!st.isDirectory()) throw gsyncdError('GSYNCD_ERR_SLAVE_UNAVAILABLE', `slave root ${this.root} is not a directory`);
    return { root: this.root, rootDev: String(st.dev), rootIno: String(st.ino) };
  }

  /** Listing of a directory with each subdirectory's mark; null when the directory is absent. */
  async list(dir: BytePath, markKey: string): Promise<SlaveEntry[] | null> {
    await this.guard(dir);
    // A symlink where the master has a directory (a type swap not applied yet) is no directory
    // here: never followed, it could lead out of the root.
    if (await this.isSymlink(dir)) return null;
    const raw = await listDir(this.root, dir);
    if (!raw) return null;
    return Promise.all(raw.map(async (e) => {
      const { ino: _i, dev: _d, nlink, ctimeNs: _c, sparse: _s, ...entry } = e;
      // A file's link count tells the master whether a hard-link group is whole here.
      if (e.type !== 'dir') return e.type === 'file' && nlink > 1 ? { ...entry, nlink } : entry;
      const rel = dir === '' ? e.name : `${dir}/${e.name}`;
      return { ...entry, mark: decodeXtime(await getXattr(absPath(this.root, rel), markKey)) };
    }));
  }

  async readMark(dir: BytePath, markKey: string): Promise<Xtime | null> {
    await this.guard(dir);
    if (await this.isSymlink(dir)) return null;
    return decodeXtime(await getXattr(absPath(this.root, dir), markKey));
  }

  /**
   * Apply ops as if in order; each gets its own result (a failure does not stop the rest). Ops on
   * unrelated paths run concurrently (a FUSE round trip each): see independentWaves, which keeps
   * every pair of ops on related paths in their planned order.
   */
  async apply(ops: EntryOp[], markKey: string): Promise<OpResult[]> {
    const results: OpResult[] = new Array(ops.length);
    // Ancestors checked for symlinks, shared by the ops of one wave: no op of a wave changes an
    // ancestor of another's paths (that would make them related), so the answer holds for it.
    let checked = new Map<BytePath, Promise<boolean>>();
    const one = async (i: number): Promise<void> => {
      const op = ops[i]!;
      try {
        for (const p of opPaths(op)) await this.guard(p, checked);
        results[i] = (await this.applyOne(op, markKey)) === 'noop' ? NOOP : OK;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        results[i] = { ok: false, errno: errnoOf(e), message: `${op.op} ${displayPath(opPaths(op).join(' -> '))}: ${e.message}` };
      }
    };
    for (const wave of independentWaves(ops)) {
      checked = new Map();
      let next = 0;
      await Promise.all(Array.from({ length: Math.min(APPLY_PARALLELISM, wave.length) }, async () => {
        while (next < wave.length) await one(wave[next++]!);
      }));
    }
    return results;
  }

  private async applyOne(op: EntryOp, markKey: string): Promise<void | 'noop'> {
    const abs = (p: BytePath) => absPath(this.root, p);
    switch (op.op) {
      case 'mkdir': {
        try {
          await fs.promises.mkdir(abs(op.path), { mode: op.mode & 0o777 });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          const st = await fs.promises.lstat(abs(op.path));
          if (!st.isDirectory()) { await this.purge(op.path); await fs.promises.mkdir(abs(op.path)); }
        }
        await fs.promises.lchown(abs(op.path), op.uid, op.gid).catch(ignoreEperm);
        await fs.promises.chmod(abs(op.path), op.mode);
        return;
      }
      case 'rename': {
        // A directory never replaces a non-directory and vice versa: rename(2) refuses that
        // (EISDIR, ENOTDIR), then the conflicting target is cleared and the rename retried. One
        // round trip when nothing is in the way (the usual case).
        try {
          await fs.promises.rename(abs(op.from), abs(op.to));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'EISDIR' && code !== 'ENOTDIR') throw err;
          const [src, dst] = await Promise.all([lstatEntry(this.root, op.from, baseName(op.from)), lstatEntry(this.root, op.to, baseName(op.to))]);
          if (!src) throw Object.assign(new Error('rename source is gone'), { code: 'ENOENT' });
          if (!dst || (dst.type === 'dir') === (src.type === 'dir')) throw err;
          await this.purge(op.to);
          await fs.promises.rename(abs(op.from), abs(op.to));
        }
        return;
      }
      case 'link': {
        const dst = await lstatEntry(this.root, op.path, baseName(op.path));
        if (!dst) {
          await fs.promises.link(abs(op.existing), abs(op.path));
          return;
        }
        if (dst.type === 'dir') {
          await this.purge(op.path);
          await fs.promises.link(abs(op.existing), abs(op.path));
          return;
        }
        // Replacing a name: through a temporary link and a rename, so that a link that fails
        // (its source gone) leaves the name as it was, never without it.
        const src = await lstatEntry(this.root, op.existing, baseName(op.existing));
        if (!src) throw Object.assign(new Error('link source is gone'), { code: 'ENOENT' });
        if (src.ino === dst.ino && src.dev === dst.dev) return 'noop'; // one object already
        const tmp = joinRel(parentOf(op.path), `.gsyncd-link-${process.pid}-${++this.tmpSeq}`);
        await fs.promises.link(abs(op.existing), abs(tmp));
        try {
          await fs.promises.rename(abs(tmp), abs(op.path));
        } finally {
          await fs.promises.unlink(abs(tmp)).catch(() => {}); // left only when rename failed
        }
        return;
      }
      case 'delete':
        if (op.type !== 'dir' && op.path !== '') {
          // A non-directory goes in one unlink; anything else (a directory after all) is purged.
          try {
            await fs.promises.unlink(abs(op.path));
            return;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          }
        }
        await this.purge(op.path);
        return;
      case 'setattr': {
        const p = abs(op.path);
        if (op.uid !== undefined && op.gid !== undefined) await fs.promises.lchown(p, op.uid, op.gid).catch(ignoreEperm);
        const st = await fs.promises.lstat(p);
        if (op.mode !== undefined && !st.isSymbolicLink()) await fs.promises.chmod(p, op.mode);
        if (op.mtime) {
          const t = op.mtime[0] + op.mtime[1] / 1e9; // µs precision; rsync sets exact times
          await fs.promises.lutimes(p, t, t);
        }
        return;
      }
      case 'mark':
        await setXattr(abs(op.path), markKey, encodeXtime(op.xtime));
        return;
    }
  }

  /** Remove an entry, a directory recursively; never follows symlinks; absent is fine. */
  private async purge(rel: BytePath): Promise<void> {
    if (rel === '') throw gsyncdError('GSYNCD_ERR_UNSAFE_PATH', 'refusing to purge the slave root');
    await fs.promises.rm(absPath(this.root, rel), { recursive: true, force: true });
  }

  private async isSymlink(rel: BytePath): Promise<boolean> {
    if (rel === '') return false;
    const st = await fs.promises.lstat(absPath(this.root, rel)).catch(() => null);
    return st?.isSymbolicLink() ?? false;
  }

  /**
   * Refuse unsafe paths: not relative, `..`, NUL, and any ancestor that is a symlink (which could
   * lead out of the root). Entry ops never follow the final component; list and readMark, which
   * would, answer "no such directory" for a symlink.
   */
  async guard(rel: BytePath, checked?: Map<BytePath, Promise<boolean>>): Promise<void> {
    const refusal = checkRelPath(rel);
    if (refusal) throw Object.assign(gsyncdError('GSYNCD_ERR_UNSAFE_PATH', `unsafe path refused (${refusal}): ${JSON.stringify(displayPath(String(rel)))}`), { refusal });
    let dir = parentOf(rel);
    while (dir !== '') {
      let isLink = checked?.get(dir);
      if (!isLink) {
        isLink = this.isSymlink(dir);
        checked?.set(dir, isLink);
      }
      if (await isLink) {
        throw Object.assign(gsyncdError('GSYNCD_ERR_UNSAFE_PATH', `unsafe path refused (symlink_escape): ${JSON.stringify(displayPath(rel))}`), { refusal: 'symlink_escape' });
      }
      dir = parentOf(dir);
    }
  }
}

function ignoreEperm(err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPERM') throw err;
}

/**
 * The errno name of a failed op. Node's fs errors carry it as `code`; the xattr binding's
 * (marks) say `GenericFailure` and put the number in the message: "... (os error 2)".
 */
export function errnoOf(e: NodeJS.ErrnoException): string {
  if (e.code && /^E[A-Z0-9]+$/.test(e.code)) return e.code;
  const n = /\(os error (\d+)\)/.exec(String(e.message))?.[1];
  const name = n ? Object.entries(os.constants.errno).find(([, v]) => v === Number(n))?.[0] : undefined;
  return name ?? e.code ?? 'EIO';
}
