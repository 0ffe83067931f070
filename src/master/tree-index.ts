// The tree tracker's persistent state: the index of what the slave confirmed (a Journal of
// `e:<path>` → entry tuple and `d:<dir>` → the xtime the directory was stamped with, plus
// `m:clock`), the tracker's own id, and the recorded identity of the master root.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { baseName, joinRel, parentOf, type BytePath } from '../core/bytepath.js';
import { gsyncdError } from '../core/errors.js';
import { decodeIndexed, encodeIndexed, type IndexedDir, type IndexedEntry, type IndexTuple } from '../core/tracker-compare.js';
import { atomicWrite } from '../fs/durable.js';
import { Journal } from './journal.js';

type IndexValue = IndexTuple | number;

const CLOCK_KEY = 'm:clock';

function entryKey(p: BytePath): string {
  return `e:${p}`;
}

function dirKey(d: BytePath): string {
  return `d:${d}`;
}

function sameTuple(a: unknown, b: IndexTuple): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((v, i) => v === b[i]);
}

export class TreeIndex {
  /** Confirmed names per directory (the journal holds their records). */
  private readonly children = new Map<BytePath, Set<BytePath>>();
  private persistedClock = 0;
  /** Greatest xtime found in the file (confirmed values and the persisted clock). */
  readonly maxXtime: number;

  private constructor(private readonly journal: Journal<IndexValue>) {
    let maxSeen = 0;
    for (const [key, v] of journal.state) {
      if (key.startsWith('e:')) {
        const p = key.slice(2);
        const d = parentOf(p);
        let set = this.children.get(d);
        if (!set) this.children.set(d, (set = new Set()));
        set.add(baseName(p));
      } else if (typeof v === 'number' && (key.startsWith('d:') || key === CLOCK_KEY)) {
        if (v > maxSeen) maxSeen = v;
        if (key === CLOCK_KEY) this.persistedClock = v;
      }
    }
    this.maxXtime = maxSeen;
  }

  static open(file: string): TreeIndex {
    return new TreeIndex(Journal.open<IndexValue>(file));
  }

  get entryCount(): number {
    let n = 0;
    for (const s of this.children.values()) n += s.size;
    return n;
  }

  /** The xtime `dir` was confirmed with, or undefined when it never was. */
  confirmedXtime(dir: BytePath): number | undefined {
    const v = this.journal.state.get(dirKey(dir));
    return typeof v === 'number' ? v : undefined;
  }

  /** The confirmed entries of `dir`; null when the directory itself was never confirmed. */
  dir(dir: BytePath): IndexedDir | null {
    if (this.confirmedXtime(dir) === undefined) return null;
    const names = this.children.get(dir) ?? new Set<BytePath>();
    const state = this.journal.state;
    return {
      size: names.size,
      keys: () => names,
      get: (name) => (names.has(name) ? decodeIndexed(state.get(entryKey(joinRel(dir, name)))) ?? undefined : undefined),
    };
  }

  /** Record `dir` as the slave holds it now: exactly `entries`, stamped with `xtime`. */
  confirm(dir: BytePath, entries: readonly { name: BytePath; rec: IndexedEntry }[], xtime: number): void {
    const j = this.journal;
    const prev = this.children.get(dir);
    const names = new Set<BytePath>();
    for (const { name, rec } of entries) {
      names.add(name);
      const p = joinRel(dir, name);
      const old = j.state.get(entryKey(p));
      const tuple = encodeIndexed(rec);
      if (sameTuple(old, tuple)) continue;
      const oldRec = decodeIndexed(old);
      // Another directory under this name: what we knew below the old one is void.
      if (oldRec?.type === 'dir' && (rec.type !== 'dir' || oldRec.ino !== rec.ino)) this.dropSubtree(p);
      j.set(entryKey(p), tuple);
    }
    if (prev) {
      for (const name of prev) {
        if (names.has(name)) continue;
        const p = joinRel(dir, name);
        if (decodeIndexed(j.state.get(entryKey(p)))?.type === 'dir') this.dropSubtree(p);
        j.delete(entryKey(p));
      }
    }
    this.children.set(dir, names);
    if (j.state.get(dirKey(dir)) !== xtime) j.set(dirKey(dir), xtime);
  }

  /** Forget a directory that is gone (or replaced) and everything known below it. */
  dropSubtree(dir: BytePath): void {
    const j = this.journal;
    const stack = [dir];
    while (stack.length > 0) {
      const d = stack.pop()!;
      const names = this.children.get(d);
      if (names) {
        for (const n of names) {
          const p = joinRel(d, n);
          if (decodeIndexed(j.state.get(entryKey(p)))?.type === 'dir') stack.push(p);
          j.delete(entryKey(p));
        }
        this.children.delete(d);
      }
      j.delete(dirKey(d));
    }
  }

  /** Remember the clock so a restart never issues a value again (even with the wall clock behind). */
  noteClock(us: number): void {
    if (us <= this.persistedClock) return;
    this.persistedClock = us;
    this.journal.set(CLOCK_KEY, us);
  }

  flush(): void {
    this.journal.flush();
  }

  close(): void {
    this.journal.close();
  }
}

/** The tracker's id (marks on the slave are keyed by it): created once, kept in the state dir. */
export function loadOrCreateId(file: string, onMalformed: () => void): string {
  try {
    const id = fs.readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) return id;
    onMalformed();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw gsyncdError('GSYNCD_ERR_STATE', `cannot read ${file}: ${(err as Error).message}`, err);
  }
  const id = randomUUID();
  atomicWrite(file, id + '\n');
  return id;
}

export interface RootIdentity {
  readonly dev: string;
  readonly ino: string;
}

/** The recorded root identity; null when none is recorded (or the file is unreadable as JSON). */
export function readRootIdentity(file: string): RootIdentity | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw gsyncdError('GSYNCD_ERR_STATE', `cannot read ${file}: ${(err as Error).message}`, err);
  }
  try {
    const v = JSON.parse(text) as Partial<RootIdentity>;
    return typeof v.dev === 'string' && typeof v.ino === 'string' ? { dev: v.dev, ino: v.ino } : null;
  } catch {
    return null;
  }
}

export function writeRootIdentity(file: string, id: RootIdentity, root: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  atomicWrite(file, JSON.stringify({ ...id, root }) + '\n');
}
