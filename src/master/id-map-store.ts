// The id map of a session kept on disk: a journal of name → object id, and a stale marker that
// lists the names whose entry ops were in flight, so that a worker killed mid-batch forgets
// exactly the names it may be wrong about (a rename or link from a wrong name would move or
// share the wrong file on the slave).
import fs from 'node:fs';
import path from 'node:path';
import type { BytePath } from '../core/bytepath.js';
import { IdMap } from '../core/id-map.js';
import { opPaths, type EntryOp } from '../core/ops.js';
import type { Logger } from '../log/logger.js';
import { Journal } from './journal.js';

export class IdMapStore {
  readonly ids: IdMap = new IdMap();
  /** `ids-VOL.journal.stale`: present while the slave may be ahead of the saved id map. */
  private staleMarker = '';
  private staleMarked = false;
  private journal: Journal<string> | null = null;

  /** Load the map of master volume `volumeId` (keyed by it: another master's ids mean nothing here). */
  open(sessionDir: string, volumeId: string, log: Logger): void {
    const file = path.join(sessionDir, `ids-${volumeId}.journal`);
    this.staleMarker = `${file}.stale`;
    this.journal = Journal.open<string>(file);
    for (const [p, id] of this.journal.state) this.ids.set(p, id);
    const inDoubt = readStaleMarker(this.staleMarker);
    if (inDoubt) {
      // The last worker was changing these names on the slave when it died: the map may place an
      // object at a name that holds another one now, and a rename or link from there would move
      // or share the wrong file. Forget them (and what is below them); the rest was confirmed.
      const forgotten = inDoubt === 'all' ? this.ids.deleteSubtrees(['']) : this.ids.deleteSubtrees(inDoubt);
      log.warn({ file, inDoubt: inDoubt === 'all' ? 'all' : inDoubt.length, forgotten: forgotten.length }, 'the id map was not saved after the last entry ops (worker killed?): forgetting the names they touched');
      this.sync();
      fs.rmSync(this.staleMarker, { force: true });
    }
    this.ids.drainChanges();
  }

  /** Mirror the in-memory id map into the journal and fsync it. */
  sync(): void {
    const j = this.journal;
    if (!j) return;
    for (const [p, id] of this.ids.drainChanges()) {
      if (id === undefined) j.delete(p);
      else j.set(p, id);
    }
    j.flush();
    if (this.staleMarked) {
      fs.rmSync(this.staleMarker, { force: true });
      this.staleMarked = false;
    }
  }

  /** Before ops change names on the slave: until the next sync, the saved map may be wrong about them. */
  stale(ops: readonly EntryOp[]): void {
    if (!this.staleMarker) return;
    const paths = [...new Set(ops.flatMap(opPaths))];
    fs.appendFileSync(this.staleMarker, `${JSON.stringify(paths)}\n`);
    this.staleMarked = true;
  }

  close(): void {
    this.journal?.close();
  }
}

/** Paths listed in a stale marker (one JSON array per line); 'all' when it cannot be read whole. */
function readStaleMarker(file: string): BytePath[] | 'all' | null {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch { return null; }
  const out: BytePath[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const paths = JSON.parse(line) as unknown;
      if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string')) return 'all';
      out.push(...(paths as BytePath[]));
    } catch {
      return 'all'; // torn: the list of what was in flight is not complete
    }
  }
  return out;
}
