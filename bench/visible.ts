// "Visible on the slave": poll a slave directory (normally an ordinary FUSE mount of the slave
// volume with zero cache timeouts) until the expected files are there with the expected content
// and the expected absences are gone.
//
// Cost control for big trees: each poll lists only the directories that still have pending
// files; a file that showed up with the expected size is not stat'ed again. When nothing is
// pending any more, the content of every file is verified once (files of 1 MiB and more by sha1);
// a mismatch puts the file back to pending and polling goes on. The visibility time is the end of
// the poll in which the last pending item was found (content verification time is not counted
// unless it fails). With `contentEachPoll` every poll compares the whole content (latency
// checks of a single small file that may be rewritten with the same size).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { content, contentHash, type FileSpec } from './content.js';

export interface WaitOptions {
  intervalMs?: number;
  contentEachPoll?: boolean;
  /** Called after every poll with (found, total). */
  onProgress?: (found: number, total: number) => void;
  signal?: AbortSignal;
}

export interface Expectation {
  /** Files that must exist with content(seed, size), relative to the root. */
  files?: readonly FileSpec[];
  /** Paths (files or directories) that must not exist. */
  absent?: readonly string[];
}

async function fileMatches(p: string, f: FileSpec): Promise<boolean> {
  try {
    if (f.size >= 1 << 20) {
      const h = createHash('sha1');
      for await (const chunk of fs.createReadStream(p, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
      return h.digest('hex') === contentHash(f.seed, f.size);
    }
    const b = await fs.promises.readFile(p);
    return b.length === f.size && b.equals(content(f.seed, f.size));
  } catch {
    return false;
  }
}

async function pool<T>(items: readonly T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

export class TreeWaiter {
  /** dir -> name -> spec, pending files only */
  private readonly pending = new Map<string, Map<string, FileSpec>>();
  /** dir -> names that must be absent (a dir itself absent: name '' in its parent... kept simple:
   *  absent paths are checked by lstat, grouped per parent directory listing) */
  private readonly absent = new Map<string, Set<string>>();
  private readonly found: FileSpec[] = [];
  readonly total: number;

  constructor(
    readonly root: string,
    exp: Expectation,
  ) {
    for (const f of exp.files ?? []) {
      const d = path.posix.dirname(f.rel);
      let m = this.pending.get(d);
      if (!m) this.pending.set(d, (m = new Map()));
      m.set(path.posix.basename(f.rel), f);
    }
    for (const a of exp.absent ?? []) {
      const d = path.posix.dirname(a);
      let s = this.absent.get(d);
      if (!s) this.absent.set(d, (s = new Set()));
      s.add(path.posix.basename(a));
    }
    this.total = (exp.files?.length ?? 0) + (exp.absent?.length ?? 0);
  }

  private pendingCount(): number {
    let n = 0;
    for (const m of this.pending.values()) n += m.size;
    for (const s of this.absent.values()) n += s.size;
    return n;
  }

  /** One pass over what is pending. Returns the number of items satisfied so far. */
  async poll(contentEachPoll = false): Promise<number> {
    const dirs = [...new Set([...this.pending.keys(), ...this.absent.keys()])];
    await pool(dirs, 8, async (d) => {
      let names: Set<string>;
      try {
        names = new Set(await fs.promises.readdir(path.join(this.root, d)));
      } catch {
        names = new Set();
      }
      const gone = this.absent.get(d);
      if (gone) {
        for (const n of [...gone]) if (!names.has(n)) gone.delete(n);
        if (!gone.size) this.absent.delete(d);
      }
      const m = this.pending.get(d);
      if (!m) return;
      const here = [...m.values()].filter((f) => names.has(path.posix.basename(f.rel)));
      await pool(here, 16, async (f) => {
        const p = path.join(this.root, f.rel);
        let ok: boolean;
        if (contentEachPoll) ok = await fileMatches(p, f);
        else {
          try {
            const st = await fs.promises.lstat(p);
            ok = st.isFile() && st.size === f.size;
          } catch {
            ok = false;
          }
        }
        if (ok) {
          m.delete(path.posix.basename(f.rel));
          this.found.push(f);
        }
      });
      if (!m.size) this.pending.delete(d);
    });
    return this.total - this.pendingCount();
  }

  /** Verify the content of everything found by size; mismatches go back to pending. */
  private async verify(contentEachPoll: boolean): Promise<number> {
    if (contentEachPoll) return 0;
    const bad: FileSpec[] = [];
    const all = this.found.splice(0);
    await pool(all, 16, async (f) => {
      if (!(await fileMatches(path.join(this.root, f.rel), f))) bad.push(f);
    });
    this.found.push(...all.filter((f) => !bad.includes(f)));
    for (const f of bad) {
      const d = path.posix.dirname(f.rel);
      let m = this.pending.get(d);
      if (!m) this.pending.set(d, (m = new Map()));
      m.set(path.posix.basename(f.rel), f);
    }
    return bad.length;
  }

  /** Poll until everything is satisfied; resolves to the time (Date.now()) it was first seen so. */
  async wait(o: WaitOptions = {}): Promise<number> {
    const interval = o.intervalMs ?? 100;
    for (;;) {
      o.signal?.throwIfAborted();
      const n = await this.poll(o.contentEachPoll);
      const t = Date.now();
      o.onProgress?.(n, this.total);
      if (n === this.total) {
        const bad = await this.verify(o.contentEachPoll ?? false);
        if (bad === 0) return t;
      }
      await sleep(interval, undefined, { signal: o.signal });
    }
  }
}

/** Wait until `exp` holds below `root`; returns the Date.now() when it did. */
export function waitVisible(root: string, exp: Expectation, o: WaitOptions = {}): Promise<number> {
  return new TreeWaiter(root, exp).wait(o);
}
