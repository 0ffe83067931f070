// One worker per session: two workers syncing the same master to the same slave would race on
// the marks and the id map. The lock is a file in the session directory naming its holder by pid
// and process start time (so a pid reused after a reboot or in a new container is not mistaken
// for the holder). A holder that died, even by kill -9, leaves a stale lock that is taken over.
import fs from 'node:fs';
import path from 'node:path';
import { gsyncdError } from '../core/errors.js';
import { pidAlive } from './pid.js';

export interface SessionLock {
  readonly file: string;
  release(): void;
}

interface Holder { pid: number; start: string }

/** Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat); '' if unknown. */
export function processStartTime(pid: number): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? '';
  } catch {
    return '';
  }
}

function parseHolder(text: string): Holder | null {
  const [pid, start = ''] = text.trim().split(/\s+/);
  const n = Number(pid);
  return Number.isInteger(n) && n > 0 ? { pid: n, start } : null;
}

function holderAlive(h: Holder): boolean {
  if (!pidAlive(h.pid)) return false;
  const now = processStartTime(h.pid);
  return h.start === '' || now === '' || now === h.start;
}

/**
 * Take the session's worker lock or fail with GSYNCD_ERR_SESSION_BUSY naming the holder.
 * The file is created complete (written aside, then hard-linked into place), so a reader never
 * sees a half-written holder.
 */
export function acquireSessionLock(sessionDir: string): SessionLock {
  fs.mkdirSync(sessionDir, { recursive: true });
  const file = path.join(sessionDir, 'worker.lock');
  const me: Holder = { pid: process.pid, start: processStartTime(process.pid) };
  const body = `${me.pid} ${me.start}\n`;
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, body);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        fs.linkSync(tmp, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw err;
      }
      let text = '';
      try { text = fs.readFileSync(file, 'utf8'); } catch { continue; } // released meanwhile
      const holder = parseHolder(text);
      if (holder && holder.pid === me.pid) break;
      if (holder && holderAlive(holder)) {
        throw gsyncdError('GSYNCD_ERR_SESSION_BUSY', `another worker (pid ${holder.pid}) is running this session (lock ${file}); stop it first`);
      }
      // Stale: its holder is gone. Remove it only if it is still the same stale file.
      try { if (fs.readFileSync(file, 'utf8') === text) fs.unlinkSync(file); } catch { /* gone already */ }
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    try { if (parseHolder(fs.readFileSync(file, 'utf8'))?.pid === me.pid) fs.unlinkSync(file); } catch { /* already gone */ }
    process.off('exit', release);
  };
  process.on('exit', release);
  return { file, release };
}
