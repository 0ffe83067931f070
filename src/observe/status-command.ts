// `gsyncd status [--json]`: ask the running daemon's /status, else read the state files, print
// one verdict, and exit with its Nagios-style code (0 in-sync/catching-up, 1 degraded,
// 2 halted, 3 unknown), so the command works directly as a monitoring check.
//
//   const code = await runStatus({ json, stateDir: opts.get('state-dir'), httpUrl: httpUrlFromBind(opts.get('http-bind')),
//                                  thresholds: { inSyncLagS: opts.get('in-sync-lag'), stallTimeoutS: opts.get('stall-timeout') },
//                                  version, out: process.stdout });
//
// The state-file path knows no live facts (pending work, slave link); a state whose writer is
// gone is `halted` (daemon_not_running).
import fs from 'node:fs';
import path from 'node:path';
import { pidAlive } from '../session/pid.js';
import { readState, type SessionState } from '../session/state-file.js';
import {
  computeStatus, defaultThresholds, verdictExitCode, verdicts, type SessionStatus, type StatusDoc, type StatusThresholds, type WorkerInput,
} from './status.js';

export interface StatusCommandOptions {
  readonly json: boolean;
  /** Explicit state files; otherwise every `<stateDir>/<session>/state.json`. */
  readonly stateFiles?: readonly string[];
  readonly stateDir?: string;
  /** Base URL of the daemon (`http://127.0.0.1:9754`); /status is appended. */
  readonly httpUrl?: string;
  readonly out: { write(text: string): unknown };
  readonly thresholds?: StatusThresholds;
  readonly version?: string;
  readonly timeoutMs?: number;
  /** Tests inject these. */
  readonly now?: () => number;
  readonly isRunning?: (pid: number) => boolean;
  readonly fetch?: typeof fetch;
}

export async function runStatus(opts: StatusCommandOptions): Promise<number> {
  const doc = (opts.httpUrl ? await fetchStatus(opts.httpUrl, opts) : null) ?? statusFromFiles(opts);
  opts.out.write(opts.json ? JSON.stringify(doc, null, 2) + '\n' : formatStatus(doc, opts.httpUrl));
  return verdictExitCode[doc.verdict];
}

/** The daemon's document, or null when it is unreachable or answers something else. */
export async function fetchStatus(baseUrl: string, opts: Pick<StatusCommandOptions, 'timeoutMs' | 'fetch'> = {}): Promise<StatusDoc | null> {
  const f = opts.fetch ?? fetch;
  try {
    const res = await f(new URL('/status', baseUrl), { signal: AbortSignal.timeout(opts.timeoutMs ?? 2000), headers: { accept: 'application/json' } });
    if (res.status !== 200) return null;
    const doc = (await res.json()) as StatusDoc;
    return doc && (verdicts as readonly string[]).includes(doc.verdict) && Array.isArray(doc.sessions) ? doc : null;
  } catch {
    return null;
  }
}

export function statusFromFiles(opts: Pick<StatusCommandOptions, 'stateFiles' | 'stateDir' | 'thresholds' | 'version' | 'now' | 'isRunning'>): StatusDoc {
  const files = opts.stateFiles ?? (opts.stateDir ? listStateFiles(opts.stateDir) : []);
  const alive = opts.isRunning ?? pidAlive;
  const workers: WorkerInput[] = [];
  for (const f of files) {
    const state = readState(f);
    if (!state || typeof state.session !== 'string') continue;
    workers.push({ state, daemonRunning: isWriterRunning(state, alive), monitorGaveUp: state.monitorGaveUp !== undefined });
  }
  return computeStatus({
    role: 'master', version: opts.version ?? 'unknown', now: (opts.now ?? Date.now)(),
    thresholds: opts.thresholds ?? defaultThresholds, source: 'state-file', workers,
  });
}

/** `<dir>/<session>/state.json` for every session directory, sorted. */
export function listStateFiles(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names.sort().map((n) => path.join(dir, n, 'state.json')).filter((f) => fs.existsSync(f));
}

function isWriterRunning(state: SessionState, alive: (pid: number) => boolean): boolean {
  if (state.workerState === 'stopped') return false;
  return Number.isInteger(state.pid) && state.pid > 0 && alive(state.pid);
}

/** The human form: verdict and reasons, then one block per session with a worker table. */
export function formatStatus(doc: StatusDoc, httpUrl?: string): string {
  const lines: string[] = [];
  const from = doc.source === 'daemon' ? `daemon ${httpUrl ?? ''}`.trim() : 'state files (daemon not reachable)';
  lines.push(`${doc.verdict} (exit ${verdictExitCode[doc.verdict]}) from ${from}`);
  for (const r of doc.reasons) lines.push(`  ${r.code}: ${r.message}`);
  for (const s of doc.sessions) lines.push('', ...sessionBlock(s));
  return lines.join('\n') + '\n';
}

function sessionBlock(s: SessionStatus): string[] {
  const out = [`session ${s.session} (${s.state})  ${s.master} -> ${s.slave}`];
  const lag = s.lag_seconds === null ? '' : ` (lag ${s.lag_seconds} s)`;
  out.push(`  synced up to: ${s.synced_up_to ?? (s.initial_sync_completed ? 'unknown until the first pass ends' : 'initial sync in progress')}${lag}`);
  if (s.checkpoint.time) {
    out.push(`  checkpoint:   ${s.checkpoint.time} ${s.checkpoint.completed ? `completed${s.checkpoint.completed_at ? ` at ${s.checkpoint.completed_at}` : ''}` : 'pending'}`);
  }
  if (s.halt) out.push(`  halt:         ${s.halt.reason} since ${s.halt.since}: ${s.halt.detail}`);
  if (s.pending) out.push(`  pending:      ${s.pending.entry} entry, ${s.pending.data} data, ${s.pending.meta} meta, ${s.pending.bytes} bytes`);
  const rows = [['BRICK', 'STATE', 'CRAWL', 'SYNCED UP TO', 'LAG', 'LAST BATCH', 'RESTARTS', 'BRICK PATH']];
  for (const w of s.workers) {
    rows.push([w.brick, w.state, w.crawl, w.synced_up_to ?? '-', w.lag_seconds === null ? '-' : `${w.lag_seconds} s`, w.last_batch_at ?? '-', String(w.restarts), w.brick_path ?? '-']);
  }
  out.push(...table(rows).map((l) => `  ${l}`));
  for (const w of s.workers) if (w.last_error) out.push(`  brick ${w.brick} last error at ${w.last_error.at}: ${w.last_error.message}`);
  return out;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}
