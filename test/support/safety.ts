// What a safety test looks at: the session's state file, the slave's entries before and after,
// and a gsyncd that must stop when told.
import fs from 'node:fs';
import path from 'node:path';
import { compareTrees } from './compare.js';
import type { RunningGsyncd } from './gsyncd.js';
import { waitFor } from './proc.js';

export interface SessionState {
  workerState?: string;
  halt?: { reason: string; since: string; detail: string };
  rootStime?: string;
}

export function readState(stateDir: string, session: string): SessionState | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir, session, 'state.json'), 'utf8')) as SessionState;
  } catch {
    return null;
  }
}

/** path → "type size mtime ino" of every entry below root (latin1 keys: names may be non-UTF-8). */
export function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: Buffer) => {
    const abs = rel.length ? Buffer.concat([Buffer.from(`${root}/`), rel]) : Buffer.from(root);
    for (const name of fs.readdirSync(abs, { encoding: 'buffer' })) {
      const r = rel.length ? Buffer.concat([rel, Buffer.from('/'), name]) : name;
      const st = fs.lstatSync(Buffer.concat([Buffer.from(`${root}/`), r]), { bigint: true });
      const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
      out.set(r.toString('latin1'), `${type} ${type === 'file' ? st.size : 0} ${type === 'dir' ? '' : st.mtimeNs} ${st.ino}`);
      if (type === 'dir') walk(r);
    }
  };
  walk(Buffer.alloc(0));
  return out;
}

/** What of `before` is missing or different in `now` (new entries are not counted). */
export function lost(before: Map<string, string>, now: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [p, v] of before) {
    const w = now.get(p);
    if (w !== v) out.push(`${JSON.stringify(Buffer.from(p, 'latin1').toString())}: ${v} -> ${w ?? 'gone'}`);
  }
  return out;
}

/** SIGTERM and wait; a gsyncd that does not exit within `ms` is a failure (and is killed, with
 *  its worker, so that the test ends). */
export async function stopWithin(run: RunningGsyncd, ms = 30_000): Promise<number | null> {
  const pid = run.child.pid!;
  const worker = childrenOf(pid);
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([run.stop(), new Promise<'hung'>((r) => { timer = setTimeout(() => r('hung'), ms); })]);
  clearTimeout(timer);
  if (code !== 'hung') return code;
  for (const p of worker) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  await run.kill9();
  throw new Error(`gsyncd (pid ${pid}, worker ${worker.join(',')}) did not exit within ${ms} ms of SIGTERM:\n${run.output().slice(-3000)}`);
}

/** Live child processes of `pid`. */
export function childrenOf(pid: number): number[] {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => {
    try { const st = fs.readFileSync(`/proc/${p}/stat`, 'utf8'); return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid; } catch { return false; }
  });
}

/** Wait until slave mirrors master (45 s); the error lists the first differences. */
export async function converge(master: string, slave: string, what: string, ignoreRoot?: string[]): Promise<void> {
  let last: string[] = [];
  try {
    await waitFor(() => { last = compareTrees(master, slave, { ignoreRoot }); return last.length === 0; }, { what, timeoutMs: 45_000, intervalMs: 150 });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n  ${last.slice(0, 20).join('\n  ')}`);
  }
}
