// Shared helpers of the observe tests: parse the exposition as Prometheus sees it, build states.
import assert from 'node:assert/strict';
import type { Registry } from 'prom-client';
import type { PassReport } from '../../../src/master/engine.js';
import type { SessionState } from '../../../src/session/state-file.js';

export type Sample = { name: string; labels: Record<string, string>; value: number };

export async function samples(registry: Registry): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const line of (await registry.metrics()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparsable line ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

export function find(s: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return s.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
}

export function value(s: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = find(s, name, labels);
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value;
}

export function sessionState(over: Partial<SessionState> = {}): SessionState {
  return {
    version: 1, session: 'gv0_backup1_gv0b', master: 'gluster://localhost:gv0', slave: 'ssh://gsyncd@backup1:/data',
    workerState: 'active', crawlState: 'xtime', pid: process.pid, updatedAt: '', initialSyncCompleted: true, restarts: 0,
    ...over,
  };
}

export function passReport(over: Partial<PassReport> = {}): PassReport {
  return {
    idle: false, complete: true, rootXtime: { sec: 1, usec: 0 }, halted: null, dirsVisited: 1, scanned: 0,
    entryOps: 0, dataFiles: 0, bytesSent: 0, failures: [], churn: [], rootMark: null, linkDebt: 0, heldDeletes: 0, massDelete: null, ...over,
  };
}
