// Figures, the `metric value unit` lines, the ratio table and the target verdicts.

export interface Figure {
  /** e.g. "a.after_write" */
  metric: string;
  peer: string;
  value: number | null;
  unit: string;
  /** Why there is no value (timeout, failed, n/a, pending), or a remark on the value (partial) */
  note?: string;
  /** Progress at a timeout, e.g. "3412/10000 visible after 1200 s" */
  detail?: string;
}

export interface PeerCol {
  id: string;
  label: string;
}

export function fmt(v: number | null | undefined, unit = ''): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (unit === 'B') return String(Math.round(v));
  if (unit === '1/min') return v >= 100 ? String(Math.round(v)) : v.toFixed(1);
  if (unit === '%') return v.toFixed(3);
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

/** `metric value unit`; a missing value is a single word (timeout, failed, n/a, pending). */
export function metricLine(f: Figure): string {
  return `${f.metric}.${f.peer} ${f.value === null ? (f.note ?? 'n/a') : fmt(f.value, f.unit)} ${f.unit}`;
}

function cell(f: Figure, unit: string): string {
  if (f.value === null) return `${f.note ?? 'n/a'}${f.detail ? ` (${f.detail})` : ''}`;
  return `${fmt(f.value, unit)}${f.note ? ` (${f.note})` : ''}`;
}

export class Results {
  readonly figures: Figure[] = [];

  set(f: Figure): void {
    const i = this.figures.findIndex((x) => x.metric === f.metric && x.peer === f.peer);
    if (i >= 0) this.figures[i] = f;
    else this.figures.push(f);
  }

  get(metric: string, peer: string): Figure | undefined {
    return this.figures.find((x) => x.metric === metric && x.peer === peer);
  }

  value(metric: string, peer: string): number | null {
    return this.get(metric, peer)?.value ?? null;
  }

  /** Derived figures computed from recorded ones. */
  derive(peers: readonly PeerCol[]): void {
    for (const p of peers) {
      const big = this.value('f.rss_peak', p.id);
      const small = this.value('f.rss_peak_small', p.id);
      const partial = this.get('f.rss_peak', p.id)?.note ?? this.get('f.rss_peak_small', p.id)?.note;
      if (big !== null && small !== null && small > 0) this.set({ metric: 'f.rss_growth', peer: p.id, value: big / small, unit: 'x', ...(partial ? { note: partial } : {}) });
    }
  }

  metricNames(): string[] {
    const order = (m: string) => m.split('.')[0]!;
    const names: string[] = [];
    for (const f of this.figures) if (!names.includes(f.metric)) names.push(f.metric);
    return names.sort((a, b) => order(a).localeCompare(order(b)) || names.indexOf(a) - names.indexOf(b));
  }

  /** Markdown: one row per figure, one column per peer, then gsyncd's ratios to the others. */
  table(peers: readonly PeerCol[], subject = 'gsyncd', against = ['georep', 'lsyncd', 'rsync', 'rsync-ssh']): string {
    const others = against.filter((a) => peers.some((p) => p.id === a) && a !== subject);
    const label = (id: string) => peers.find((p) => p.id === id)?.label ?? id;
    const head = ['figure', 'unit', ...peers.map((p) => p.label), ...others.map((o) => `${label(subject)} ÷ ${label(o)}`)];
    const rows = [head, head.map(() => '---')];
    for (const m of this.metricNames()) {
      const unit = this.figures.find((f) => f.metric === m)?.unit ?? '';
      const cells = peers.map((p) => {
        const f = this.get(m, p.id);
        if (!f) return '';
        return cell(f, unit);
      });
      const s = this.value(m, subject);
      const ratios = others.map((o) => {
        const v = this.value(m, o);
        if (s === null || v === null || v === 0) return '';
        return `${(s / v).toFixed(s / v >= 10 ? 0 : 2)}`;
      });
      rows.push([m, unit, ...cells, ...ratios]);
    }
    return rows.map((r) => `| ${r.join(' | ')} |`).join('\n');
  }
}

export interface Verdict {
  id: string;
  requirement: string;
  measured: string;
  result: 'met' | 'FAILED' | 'not measured';
}

/** The issue's targets, for peer `g` (gsyncd over ssh). */
export function verdicts(r: Results, renameBytes: number, g = 'gsyncd'): Verdict[] {
  const out: Verdict[] = [];
  const v = (m: string, p = g) => r.value(m, p);
  const why = (m: string, p = g) => {
    const f = r.get(m, p);
    return f?.value === null ? `${m}.${p}: ${f.note ?? 'n/a'}` : `${m}.${p} missing`;
  };
  const ratio = (id: string, m: string, other: string, limit: number, text: string, atLeast = false) => {
    const a = v(m);
    const b = v(m, other);
    const unit = r.get(m, g)?.unit ?? 's';
    if (a === null || b === null || b === 0) {
      out.push({ id, requirement: text, measured: a === null ? why(m) : why(m, other), result: 'not measured' });
      return;
    }
    const q = a / b;
    out.push({ id, requirement: text, measured: `${fmt(a, unit)} vs ${fmt(b, unit)} ${unit} = ${q.toFixed(3)}×`, result: (atLeast ? q >= limit : q <= limit) ? 'met' : 'FAILED' });
  };
  const abs = (id: string, m: string, limit: number, unit: string, text: string, strict = false) => {
    const a = v(m);
    if (a === null) {
      out.push({ id, requirement: text, measured: why(m), result: 'not measured' });
      return;
    }
    out.push({ id, requirement: text, measured: `${fmt(a, unit)} ${unit}`, result: (strict ? a < limit : a <= limit) ? 'met' : 'FAILED' });
  };
  ratio('2a.1', 'a.after_write', 'georep', 0.1, 'a: propagation after the writer ends ≤ 0.1× geo-rep');
  ratio('2a.2', 'a.end_to_end', 'georep', 0.4, 'a: end to end ≤ 0.4× geo-rep');
  ratio('2b.1', 'b.after_write', 'georep', 0.3, 'b: propagation after the writer ends ≤ 0.3× geo-rep');
  ratio('2b.2', 'b.rate', 'rsync', 0.8, 'b: copy rate ≥ 0.8× raw rsync -a onto the slave', true);
  abs('2c', 'c.median', 1, 's', 'c: median latency ≤ 1 s');
  abs('2d.1', 'd.rename_dir', 2, 's', 'd: renamed directory of 1,000 files visible ≤ 2 s');
  {
    // Judged on what reached the slave's disk: the brick's wchar also counts its replies to
    // every listing and read (the checker's too when it reads through a mount), ~200 B per file, so it is only shown.
    const sent = v('d.rename_dir_bytes_sent');
    const written = v('d.rename_dir_slave_disk_written');
    const wchar = v('d.rename_dir_slave_written');
    const lim = renameBytes * 0.01;
    if (sent === null && written === null) out.push({ id: '2d.2', requirement: 'd: ~0 data bytes re-sent for the renamed directory (≤ 1 % of its data)', measured: why('d.rename_dir_bytes_sent'), result: 'not measured' });
    else out.push({
      id: '2d.2',
      requirement: 'd: ~0 data bytes re-sent for the renamed directory (≤ 1 % of its data)',
      measured: `${sent === null ? '?' : fmt(sent, 'B')} B sent, ${written === null ? '?' : fmt(written, 'B')} B written to disk by the slave brick (all its writes, replies included: ${wchar === null ? '?' : fmt(wchar, 'B')} B; data ${renameBytes} B)`,
      result: (sent ?? 0) <= lim && (written ?? 0) <= lim ? 'met' : 'FAILED',
    });
  }
  abs('2d.3', 'd.delete_after_op', 2, 's', 'd: 1,000 deletes visible ≤ 2 s after the last unlink');
  abs('2e', 'e.cpu_pct', 0.2, '%', 'e: idle ≤ 0.2 % of a core');
  abs('2f.1', 'f.deep_change', 1, 's', 'f: one change deep in the big tree visible < 1 s', true);
  // Judged on the group's resident memory with every page once (the union of the page frames of
  // all its processes): summed RSS counts the node binary's ~43 MB of shared file pages once per
  // Node process (monitor, worker, slave). The sum and the largest process are shown with it.
  abs('2f.2', 'f.rss_peak_once', 200, 'MB', 'f: RSS < 200 MB during the initial sync of the big tree (all the peer\'s processes, both ends; pages shared between them counted once)', true);
  {
    const last = out[out.length - 1]!;
    const sum = v('f.rss_peak');
    const proc = v('f.rss_peak_proc');
    const note = r.get('f.rss_peak', g)?.note;
    if (sum !== null) last.measured += ` (summed per-process RSS ${fmt(sum, 'MB')} MB${proc !== null ? `, largest single process ${fmt(proc, 'MB')} MB` : ''})`;
    if (note) last.measured += ` [${note}]`;
  }
  abs('2f.3', 'f.rss_growth', 1.5, 'x', 'f: RSS flat as the tree grows (peak at N files ≤ 1.5× peak at N/10)');
  return out;
}

export function verdictTable(vs: readonly Verdict[]): string {
  const rows = [['target', 'requirement', 'measured (gsyncd over ssh)', 'result'], ['---', '---', '---', '---']];
  for (const x of vs) rows.push([x.id, x.requirement, x.measured, x.result === 'FAILED' ? '**FAILED**' : x.result]);
  return rows.map((r) => `| ${r.join(' | ')} |`).join('\n');
}
