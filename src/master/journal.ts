// A small durable key/value log: the state is replayed from NDJSON lines (`["s",k,v]` set,
// `["d",k]` delete) and compacted to a snapshot (temp + fsync + rename) when the log outgrows it.
// Keys are byte strings (see core/bytepath), which JSON round-trips exactly.
import fs from 'node:fs';
import path from 'node:path';
import { fsyncDir, writeFileDurably } from '../fs/durable.js';

type Line = ['s', string, unknown] | ['d', string];

export class Journal<V> {
  private fd: number | null = null;
  private pending: string[] = [];
  private lines = 0;

  private constructor(readonly file: string, readonly state: Map<string, V>) {}

  /** Load (tolerating a torn last line from a crash) and open for appending. */
  static open<V>(file: string): Journal<V> {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const state = new Map<string, V>();
    let lines = 0;
    if (fs.existsSync(file)) {
      const text = fs.readFileSync(file, 'utf8');
      for (const raw of text.split('\n')) {
        if (!raw) continue;
        let line: Line;
        try { line = JSON.parse(raw) as Line; } catch { break; } // torn tail: everything before it is valid
        if (line[0] === 's') state.set(line[1], line[2] as V);
        else if (line[0] === 'd') state.delete(line[1]);
        lines++;
      }
    }
    const j = new Journal<V>(file, state);
    j.lines = lines;
    j.compactIfLarge(true);
    j.fd = fs.openSync(file, 'a');
    return j;
  }

  set(key: string, value: V): void {
    this.state.set(key, value);
    this.pending.push(JSON.stringify(['s', key, value]));
  }

  delete(key: string): void {
    if (this.state.delete(key)) this.pending.push(JSON.stringify(['d', key]));
  }

  /** Write what was recorded since the last flush and fsync it. */
  flush(): void {
    if (this.pending.length === 0) return;
    if (this.fd === null) throw new Error(`journal ${this.file} is closed`);
    fs.writeSync(this.fd, this.pending.join('\n') + '\n');
    fs.fsyncSync(this.fd);
    this.lines += this.pending.length;
    this.pending = [];
    this.compactIfLarge(false);
  }

  close(): void {
    if (this.fd !== null) {
      this.flush();
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }

  private compactIfLarge(force: boolean): void {
    if (!force && this.lines < Math.max(10_000, this.state.size * 3)) return;
    if (force && this.lines <= this.state.size + 1000) return;
    const tmp = `${this.file}.tmp.${process.pid}`;
    const body = [...this.state].map(([k, v]) => JSON.stringify(['s', k, v])).join('\n');
    writeFileDurably(tmp, body ? body + '\n' : '');
    fs.renameSync(tmp, this.file);
    fsyncDir(path.dirname(this.file));
    this.lines = this.state.size;
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = fs.openSync(this.file, 'a');
    }
  }
}
