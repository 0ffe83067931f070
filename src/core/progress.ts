// What a progress line says during a long pass: entries scanned, bytes sent, rates, and, when the
// size of the tree can be estimated (initial sync), percent done and ETA. Pure: the worker feeds
// it counters and an estimate.

export interface ProgressInput {
  readonly scanned: number;
  readonly bytesSent: number;
  readonly elapsedMs: number;
  /** Estimated entries in the whole tree (null: unknown). */
  readonly estimate: number | null;
}

export interface ProgressLine {
  readonly event: 'crawl.progress';
  readonly entriesScanned: number;
  readonly bytesSent: number;
  readonly elapsedS: number;
  readonly rateEntriesS: number;
  readonly rateBytesS: number;
  readonly entriesEstimated?: number;
  readonly percent?: number;
  readonly etaS?: number;
}

export function progressLine(p: ProgressInput): ProgressLine {
  const elapsedS = Math.max(p.elapsedMs, 1) / 1000;
  const rate = p.scanned / elapsedS;
  const line: ProgressLine = {
    event: 'crawl.progress',
    entriesScanned: p.scanned,
    bytesSent: p.bytesSent,
    elapsedS: Math.round(elapsedS),
    rateEntriesS: Math.round(rate),
    rateBytesS: Math.round(p.bytesSent / elapsedS),
  };
  if (p.estimate === null || p.estimate <= 0) return line;
  // An estimate already passed says nothing about what is left: no ETA rather than a wrong one.
  if (p.scanned >= p.estimate) return { ...line, entriesEstimated: p.estimate };
  const percent = Math.floor((p.scanned / p.estimate) * 1000) / 10;
  return {
    ...line,
    entriesEstimated: p.estimate,
    percent,
    ...(rate > 0 ? { etaS: Math.ceil((p.estimate - p.scanned) / rate) } : {}),
  };
}

/** One terminal line: `scanned 12,345 of ~100,000 entries (12.3 %), 1.2 MiB sent, 850/s, ETA 1m43s`. */
export function formatProgress(l: ProgressLine): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const of = l.entriesEstimated !== undefined ? ` of ~${n(l.entriesEstimated)}` : '';
  const pct = l.percent !== undefined ? ` (${l.percent.toFixed(1)} %)` : '';
  const eta = l.etaS !== undefined ? `, ETA ${formatDuration(l.etaS)}` : '';
  return `scanned ${n(l.entriesScanned)}${of} entries${pct}, ${formatBytes(l.bytesSent)} sent, ${n(l.rateEntriesS)}/s, ${formatDuration(l.elapsedS)} elapsed${eta}`;
}

export function formatBytes(b: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = b;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${b} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function formatDuration(s: number): string {
  const sec = Math.max(0, Math.round(s));
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const r = sec % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}
