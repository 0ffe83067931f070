// The workloads of the [bench] issue (a-f). Each run(ctx) measures one peer on fresh volumes it
// creates on ctx.stack (drained by the driver afterwards, also on timeout) and records figures
// with ctx.rec(metric, value, unit). Timestamps are Date.now() (ms) of this process and of the
// writer process on the same machine.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CleanupStack } from '../test/support/proc.js';
import { content, layoutFiles, SCALE_DEEP_FILE, totalBytes, type FileSpec, type Layout } from './content.js';
import { log, REPO } from './env.js';
import { cpuOver, haveStrace, ioBytesOf, RssSampler, straceCounts } from './measure.js';
import type { BatchPeer, ContinuousPeer, Peer, Running } from './peers.js';
import { waitVisible, type Expectation } from './visible.js';
import { benchVolume, type BenchVolume } from './volumes.js';

export interface Sizes {
  quick: boolean;
  smallFiles: number;
  smallDirs: number;
  bigFiles: number;
  bigBytes: number;
  latencySamples: number;
  renameFiles: number;
  idleSeconds: number;
  scaleFiles: number;
}

export const FULL: Sizes = { quick: false, smallFiles: 10_000, smallDirs: 100, bigFiles: 20, bigBytes: 50 << 20, latencySamples: 20, renameFiles: 1000, idleSeconds: 60, scaleFiles: 100_000 };
export const QUICK: Sizes = { quick: true, smallFiles: 1000, smallDirs: 100, bigFiles: 2, bigBytes: 50 << 20, latencySamples: 5, renameFiles: 1000, idleSeconds: 30, scaleFiles: 10_000 };

export interface Ctx {
  peer: Peer;
  sizes: Sizes;
  runDir: string;
  /** This (workload, peer)'s log directory. */
  logDir: string;
  stack: CleanupStack;
  signal: AbortSignal;
  rec(metric: string, value: number, unit: string, note?: string): void;
  /** Progress of the current measurement, shown with a timeout ("3412/10000 visible"). */
  note(text: string): void;
  /** State shared by every peer of one workload (and across workloads), e.g. the scale master. */
  shared: Map<string, unknown>;
  /** Stack drained at the end of the whole run (for shared volumes). */
  runStack: CleanupStack;
}

export interface MetricDecl {
  name: string;
  unit: string;
}

export interface Workload {
  id: string;
  title: string;
  /** Figures this workload records for the peer; empty = not applicable. */
  metrics(peer: Peer): MetricDecl[];
  timeoutSec(s: Sizes): number;
  run(ctx: Ctx): Promise<void>;
}

const MB = 1e6;
const MiB = 1 << 20;

// ---------------------------------------------------------------------------------------------
// helpers

/** Run the writer for `layout` below `root`; resolves to its start and end times. */
export function writeLayout(root: string, layout: Layout, concurrency: number, signal: AbortSignal): Promise<{ start: number; end: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'bench/writer.ts'), root, JSON.stringify(layout), String(concurrency)], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let start = 0;
    let end = 0;
    let stderr = '';
    readline.createInterface({ input: child.stdout }).on('line', (l) => {
      try {
        const o = JSON.parse(l) as { event: string; t: number };
        if (o.event === 'start') start = o.t;
        if (o.event === 'end') end = o.t;
      } catch {
        // not ours
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const onAbort = () => child.kill('SIGKILL');
    signal.addEventListener('abort', onAbort, { once: true });
    child.on('close', (code) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) reject(signal.reason as Error);
      else if (code !== 0 || !start || !end) reject(new Error(`writer exited ${code}: ${stderr.trim().slice(-500)}`));
      else resolve({ start, end });
    });
  });
}

const sec = (ms: number) => ms / 1000;

let canarySeq = 0;
/** Make sure changes flow before measuring: a canary file written on the master must show up on
 *  the slave within 60 s; a peer that can be restarted (geo-rep) is restarted up to twice. */
async function ensureFlowing(ctx: Ctx, run: Running, masterView: string, slaveView: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const f: FileSpec = { rel: `canary-${process.pid}-${++canarySeq}`, size: 64, seed: `canary:${canarySeq}` };
    const t0 = Date.now();
    fs.writeFileSync(path.join(masterView, f.rel), content(f.seed, f.size));
    try {
      await waitVisible(slaveView, { files: [f] }, { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(60_000)]), intervalMs: 50, contentEachPoll: true });
      log(`    canary visible after ${sec(Date.now() - t0).toFixed(2)} s`);
      return;
    } catch (e) {
      ctx.signal.throwIfAborted();
      if (!run.kick || attempt >= 3) throw new Error(`${ctx.peer.id} did not propagate a canary file within 60 s`, { cause: e });
      log(`    canary not visible after 60 s`);
      await run.kick(ctx.signal);
    }
  }
}

function quantile(sorted: readonly number[], q: number): number {
  // nearest rank
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

async function pair(ctx: Ctx): Promise<{ m: BenchVolume; s: BenchVolume }> {
  const m = await benchVolume('m', ctx.runDir, ctx.stack);
  const s = await benchVolume('s', ctx.runDir, ctx.stack);
  return { m, s };
}

let startSeq = 0;
async function startPeer(ctx: Ctx, peer: ContinuousPeer, m: BenchVolume, s: BenchVolume): Promise<Running> {
  const n = ++startSeq;
  return peer.start({
    master: m,
    slave: s,
    work: path.join(ctx.runDir, 'work', `${peer.id}.${n}`),
    logDir: path.join(ctx.logDir, `start${n}`),
    stack: ctx.stack,
    signal: ctx.signal,
  });
}

function progress(what: string, everyMs = 15_000, ctx?: Ctx): (found: number, total: number) => void {
  let last = Date.now();
  const t0 = Date.now();
  return (found, total) => {
    ctx?.note(`${found}/${total} visible after ${Math.round(sec(Date.now() - t0))} s`);
    if (Date.now() - last >= everyMs) {
      last = Date.now();
      log(`    ${what}: ${found}/${total} visible`);
    }
  };
}

/** Poll slow while the writer runs, fast after it ended. */
async function visibleWhileWriting(ctx: Ctx, slaveView: string, exp: Expectation, writer: Promise<{ start: number; end: number }>, what: string) {
  const waiter = waitVisible(slaveView, exp, { signal: ctx.signal, intervalMs: 200, onProgress: progress(what, 15_000, ctx) });
  const [w, visibleAt] = await Promise.all([writer, waiter]);
  return { ...w, visibleAt };
}

const smallLayout = (s: Sizes, tag: string): Layout => ({ kind: 'small', prefix: 'small', n: s.smallFiles, dirs: s.smallDirs, size: 4096, tag });
const bigLayout = (s: Sizes, tag: string): Layout => ({ kind: 'big', prefix: 'big', n: s.bigFiles, size: s.bigBytes, tag });

// ---------------------------------------------------------------------------------------------
// a / b: a tree written while the peer runs (continuous) or before the copy (batch)

async function writeThenPropagate(ctx: Ctx, layout: Layout, prefix: string): Promise<{ m: BenchVolume; files: FileSpec[] }> {
  const { peer, signal } = ctx;
  const { m, s } = await pair(ctx);
  const files = layoutFiles(layout);
  const bytes = totalBytes(files);
  const mw = await m.mount('w');
  const sp = await s.view();
  if (peer.kind === 'continuous') {
    const run = await startPeer(ctx, peer, m, s);
    await run.waitReady(signal, 300_000);
    await ensureFlowing(ctx, run, mw, sp);
    const rss = new RssSampler(() => run.pids(), 500).start();
    const bytes0 = run.bytesSent();
    let r: { start: number; end: number; visibleAt: number };
    try {
      r = await visibleWhileWriting(ctx, sp, { files }, writeLayout(mw, layout, 1, signal), `${prefix} ${peer.id}`);
    } finally {
      rss.stop();
      const partial = signal.aborted ? 'partial: the sync timed out' : undefined;
      ctx.rec(`${prefix}.rss_peak`, (rss.peakKb() * 1024) / MB, 'MB', partial);
      ctx.rec(`${prefix}.rss_peak_proc`, (rss.peakProcKb() * 1024) / MB, 'MB', partial);
      ctx.rec(`${prefix}.rss_peak_once`, (rss.peakOnceKb() * 1024) / MB, 'MB', partial);
    }
    ctx.rec(`${prefix}.write`, sec(r.end - r.start), 's');
    ctx.rec(`${prefix}.after_write`, sec(r.visibleAt - r.end), 's');
    ctx.rec(`${prefix}.end_to_end`, sec(r.visibleAt - r.start), 's');
    await run.passAfter(r.visibleAt - 1000, 60_000, signal);
    const b1 = run.bytesSent();
    if (b1 !== null && bytes0 !== null) ctx.rec(`${prefix}.bytes_sent`, b1 - bytes0, 'B');
    await run.stop();
  } else {
    const w = await writeLayout(mw, layout, 1, signal);
    const mr = await m.mount('r');
    const sw = await s.mount('w');
    const c = await peer.copy(mr, sw, { signal, logFile: path.join(ctx.logDir, `${peer.id}.log`) });
    await waitVisible(sp, { files }, { signal, intervalMs: 200 });
    ctx.rec(`${prefix}.write`, sec(w.end - w.start), 's');
    ctx.rec(`${prefix}.after_write`, c.seconds, 's');
    ctx.rec(`${prefix}.end_to_end`, sec(w.end - w.start) + c.seconds, 's');
    ctx.rec(`${prefix}.rss_peak`, (c.peakRssKb * 1024) / MB, 'MB');
    if (c.bytesSent !== null) ctx.rec(`${prefix}.bytes_sent`, c.bytesSent, 'B');
    if (prefix === 'b') {
      ctx.rec('b.copy', c.seconds, 's');
      ctx.rec('b.rate', bytes / MiB / c.seconds, 'MiB/s');
    }
  }
  return { m, files };
}

const wlA: Workload = {
  id: 'a',
  title: 'initial sync of small files written while the peer runs',
  metrics: (p) => [
    { name: 'write', unit: 's' },
    { name: 'after_write', unit: 's' },
    { name: 'end_to_end', unit: 's' },
    { name: 'rss_peak', unit: 'MB' },
    ...(p.kind === 'continuous' ? [{ name: 'rss_peak_proc', unit: 'MB' }, { name: 'rss_peak_once', unit: 'MB' }] : []),
    ...(p.id.startsWith('gsyncd') || p.id.startsWith('rsync') ? [{ name: 'bytes_sent', unit: 'B' }] : []),
  ],
  timeoutSec: (s) => (s.quick ? 450 : 1800),
  async run(ctx) {
    await writeThenPropagate(ctx, smallLayout(ctx.sizes, 'a'), 'a');
  },
};

const wlB: Workload = {
  id: 'b',
  title: 'big files: propagation while written, and copy rate of existing data',
  metrics: (p) => [
    { name: 'write', unit: 's' },
    { name: 'after_write', unit: 's' },
    { name: 'end_to_end', unit: 's' },
    { name: 'copy', unit: 's' },
    { name: 'rate', unit: 'MiB/s' },
    { name: 'rss_peak', unit: 'MB' },
    ...(p.kind === 'continuous' ? [{ name: 'rss_peak_proc', unit: 'MB' }, { name: 'rss_peak_once', unit: 'MB' }] : []),
    ...(p.id.startsWith('gsyncd') || p.id.startsWith('rsync') ? [{ name: 'bytes_sent', unit: 'B' }] : []),
  ],
  timeoutSec: (s) => (s.quick ? 450 : 1500),
  async run(ctx) {
    const { peer, signal } = ctx;
    const { m, files } = await writeThenPropagate(ctx, bigLayout(ctx.sizes, 'b'), 'b');
    if (peer.kind !== 'continuous') return;
    // Copy rate: the data already on the master, a fresh slave, a fresh peer start.
    const s2 = await benchVolume('s', ctx.runDir, ctx.stack);
    const sp2 = await s2.view();
    const t0 = Date.now();
    await startPeer(ctx, peer, m, s2);
    const visibleAt = await waitVisible(sp2, { files }, { signal, intervalMs: 200, onProgress: progress(`b copy ${peer.id}`, 15_000, ctx) });
    ctx.rec('b.copy', sec(visibleAt - t0), 's');
    ctx.rec('b.rate', totalBytes(files) / MiB / sec(visibleAt - t0), 'MiB/s');
  },
};

// ---------------------------------------------------------------------------------------------
// c: latency of one small file

const wlC: Workload = {
  id: 'c',
  title: 'latency: one small file created or changed -> visible on the slave',
  metrics: (p) => (p.kind === 'continuous' ? ['median', 'p95', 'min', 'max'].map((name) => ({ name, unit: 's' })) : []),
  timeoutSec: (s) => (s.quick ? 450 : 1200),
  async run(ctx) {
    const { peer, signal, sizes } = ctx;
    if (peer.kind !== 'continuous') return;
    const { m, s } = await pair(ctx);
    const mw = await m.mount('w');
    const sp = await s.view();
    const base: Layout = { kind: 'small', prefix: 'lat', n: 100, dirs: 10, size: 4096, tag: 'c' };
    await writeLayout(mw, base, 4, signal);
    const run = await startPeer(ctx, peer, m, s);
    await run.waitReady(signal, 300_000);
    await waitVisible(sp, { files: layoutFiles(base) }, { signal, intervalMs: 200 });
    await ensureFlowing(ctx, run, mw, sp);
    await sleep(2000, undefined, { signal });
    const lat: number[] = [];
    for (let i = 0; i < sizes.latencySamples; i++) {
      const f: FileSpec = i % 2 === 0
        ? { rel: `lat/d${i % 10}/new${i}`, size: 4096, seed: `c:new:${i}` }
        : { rel: `lat/d${i % 10}/f${i % 100}`, size: 4096, seed: `c:chg:${i}` };
      const t0 = Date.now();
      fs.writeFileSync(path.join(mw, f.rel), content(f.seed, f.size));
      const t = await waitVisible(sp, { files: [f] }, { signal, intervalMs: 10, contentEachPoll: true });
      lat.push(sec(t - t0));
      log(`    c ${peer.id} sample ${i + 1}/${sizes.latencySamples} (${i % 2 === 0 ? 'create' : 'change'}): ${sec(t - t0).toFixed(3)} s`);
      await sleep(1000 + ((i * 373) % 1000), undefined, { signal });
    }
    const sorted = [...lat].sort((a, b) => a - b);
    ctx.rec('c.median', sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2, 's');
    ctx.rec('c.p95', quantile(sorted, 0.95), 's');
    ctx.rec('c.min', sorted[0]!, 's');
    ctx.rec('c.max', sorted[sorted.length - 1]!, 's');
  },
};

// ---------------------------------------------------------------------------------------------
// d: renames and deletes

const D_FILE = 64 * 1024;

const wlD: Workload = {
  id: 'd',
  title: 'renamed directory, individual renames, deletes',
  metrics: (p) => {
    if (p.kind === 'batch' && !p.canDelete) return [];
    const bytes = p.id.startsWith('gsyncd') || p.id.startsWith('rsync');
    return [
      { name: 'rename_dir', unit: 's' },
      ...(bytes ? [{ name: 'rename_dir_bytes_sent', unit: 'B' }] : []),
      { name: 'rename_dir_slave_written', unit: 'B' },
      { name: 'rename_dir_slave_disk_written', unit: 'B' },
      { name: 'rename_files', unit: 's' },
      { name: 'rename_files_after_op', unit: 's' },
      ...(bytes ? [{ name: 'rename_files_bytes_sent', unit: 'B' }] : []),
      { name: 'rename_files_slave_written', unit: 'B' },
      { name: 'rename_files_slave_disk_written', unit: 'B' },
      { name: 'delete', unit: 's' },
      { name: 'delete_after_op', unit: 's' },
    ];
  },
  timeoutSec: (s) => (s.quick ? 550 : 1200),
  async run(ctx) {
    const { peer, signal, sizes } = ctx;
    const N = sizes.renameFiles;
    const { m, s } = await pair(ctx);
    const mw = await m.mount('w');
    const sp = await s.view();
    const rd: Layout = { kind: 'small', prefix: 'rd', n: N, dirs: 1, size: D_FILE, tag: 'd:rd' };
    const rf: Layout = { kind: 'small', prefix: 'rf', n: N, dirs: 1, size: D_FILE, tag: 'd:rf' };
    const dl: Layout = { kind: 'small', prefix: 'dl', n: N, dirs: 1, size: 4096, tag: 'd:dl' };
    for (const l of [rd, rf, dl]) await writeLayout(mw, l, 4, signal);
    const all = [rd, rf, dl].flatMap(layoutFiles);
    let run: Running | null = null;
    let sync: (what: string) => Promise<{ seconds: number; bytes: number | null }>;
    if (peer.kind === 'continuous') {
      run = await startPeer(ctx, peer, m, s);
      await run.waitReady(signal, 600_000);
      sync = async () => ({ seconds: 0, bytes: null });
    } else {
      const mr = await m.mount('r');
      const sw = await s.mount('w');
      sync = async (what) => {
        const c = await peer.copy(mr, sw, { del: true, signal, logFile: path.join(ctx.logDir, `${peer.id}-${what}.log`) });
        return { seconds: c.seconds, bytes: c.bytesSent };
      };
      await sync('initial');
    }
    await waitVisible(sp, { files: all }, { signal, intervalMs: 500, onProgress: progress(`d base ${peer.id}`, 15_000, ctx) });
    if (run) await ensureFlowing(ctx, run, mw, sp);
    await sleep(3000, undefined, { signal });
    const brick = s.brickPid();

    const step = async (name: string, op: () => void, exp: Expectation, afterOp: boolean, dataBytes: number) => {
      const b0 = run?.bytesSent() ?? null;
      const w0 = ioBytesOf(brick, 'wchar');
      const disk0 = ioBytesOf(brick, 'write_bytes');
      const t0 = Date.now();
      op();
      const t1 = Date.now();
      let visibleAt: number;
      let bytes: number | null = null;
      if (run) {
        visibleAt = await waitVisible(sp, exp, { signal, intervalMs: 20 });
        await run.passAfter(visibleAt - 1000, 60_000, signal);
        const b1 = run.bytesSent();
        if (b0 !== null && b1 !== null) bytes = b1 - b0;
      } else {
        const c = await sync(name);
        visibleAt = t1 + c.seconds * 1000;
        await waitVisible(sp, exp, { signal, intervalMs: 20 });
        bytes = c.bytes;
      }
      await sleep(3000, undefined, { signal }); // trailing writes (re-sends) count for *_slave_written
      ctx.rec(`d.${name}`, sec(visibleAt - t0), 's');
      if (afterOp) ctx.rec(`d.${name}_after_op`, sec(visibleAt - t1), 's');
      if (dataBytes) {
        if (bytes !== null) ctx.rec(`d.${name}_bytes_sent`, bytes, 'B');
        if (brick) {
          ctx.rec(`d.${name}_slave_written`, ioBytesOf(brick, 'wchar') - w0, 'B');
          ctx.rec(`d.${name}_slave_disk_written`, ioBytesOf(brick, 'write_bytes') - disk0, 'B');
        }
      }
      log(`    d ${peer.id} ${name}: ${sec(visibleAt - t0).toFixed(2)} s (op ${sec(t1 - t0).toFixed(2)} s)${bytes !== null ? `, ${bytes} B sent` : ''}`);
      await sleep(2000, undefined, { signal });
    };

    const rdFiles = layoutFiles(rd);
    await step('rename_dir', () => fs.renameSync(path.join(mw, 'rd/d0'), path.join(mw, 'rd/moved')), {
      files: rdFiles.map((f) => ({ ...f, rel: f.rel.replace('rd/d0/', 'rd/moved/') })),
      absent: ['rd/d0'],
    }, false, totalBytes(rdFiles));

    const rfFiles = layoutFiles(rf);
    await step('rename_files', () => {
      for (const f of rfFiles) fs.renameSync(path.join(mw, f.rel), path.join(mw, f.rel.replace(/\/f(\d+)$/, '/g$1')));
    }, {
      files: rfFiles.map((f) => ({ ...f, rel: f.rel.replace(/\/f(\d+)$/, '/g$1') })),
      absent: rfFiles.map((f) => f.rel),
    }, true, totalBytes(rfFiles));

    const dlFiles = layoutFiles(dl);
    await step('delete', () => {
      for (const f of dlFiles) fs.unlinkSync(path.join(mw, f.rel));
    }, { absent: dlFiles.map((f) => f.rel) }, true, 0);
  },
};

// ---------------------------------------------------------------------------------------------
// e: idle cost

const wlE: Workload = {
  id: 'e',
  title: 'idle: CPU and syscalls while nothing changes',
  metrics: (p) => (p.kind === 'continuous'
    ? [
        { name: 'cpu_pct', unit: '%' },
        { name: 'cpu_pct_with_mounts', unit: '%' },
        { name: 'getxattr_per_min', unit: '1/min' },
        { name: 'syscalls_per_min', unit: '1/min' },
      ]
    : []),
  timeoutSec: (s) => (s.quick ? 450 : 900),
  async run(ctx) {
    const { peer, signal, sizes } = ctx;
    if (peer.kind !== 'continuous') return;
    const { m, s } = await pair(ctx);
    const mw = await m.mount('w');
    const sp = await s.view();
    const base: Layout = { kind: 'small', prefix: 'idle', n: 1000, dirs: 10, size: 4096, tag: 'e' };
    await writeLayout(mw, base, 4, signal);
    const run = await startPeer(ctx, peer, m, s);
    await run.waitReady(signal, 300_000);
    await waitVisible(sp, { files: layoutFiles(base) }, { signal, intervalMs: 500 });
    await ensureFlowing(ctx, run, mw, sp);
    // settle: let the peer finish whatever follows the sync (changelog rollover, xtime settle)
    await sleep(20_000, undefined, { signal });
    const W = sizes.idleSeconds;
    const pidsMain = run.pids();
    const pidsAll = [...new Set([...pidsMain, ...run.pidsWithMounts()])];
    const r = await cpuOver(pidsAll, W, signal);
    const sum = (ps: readonly number[]) => ps.reduce((a, p) => a + (r.perPid.get(p) ?? 0), 0);
    const main = (sum(pidsMain) / r.wallSeconds) * 100;
    const withMounts = (sum(pidsAll) / r.wallSeconds) * 100;
    ctx.rec('e.cpu_pct', main, '%');
    ctx.rec('e.cpu_pct_with_mounts', withMounts, '%');
    log(`    e ${peer.id}: ${main.toFixed(3)} % of a core (${withMounts.toFixed(3)} % with its glusterfs mount processes), pids ${pidsMain.join(',')}`);
    // Which process costs what (the profile behind e.cpu_pct).
    const who = (p: number) => { try { return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(0, 3).map((w) => path.basename(w)).join(' '); } catch { return '?'; } };
    log(`    e ${peer.id} per process: ${pidsAll.map((p) => `${p} [${who(p)}] ${(((r.perPid.get(p) ?? 0) / r.wallSeconds) * 100).toFixed(3)} %`).join('; ')}`);
    if (haveStrace()) {
      const st = await straceCounts(run.pids(), W, path.join(ctx.logDir, 'strace.txt'), signal);
      ctx.rec('e.getxattr_per_min', (st.getxattr * 60) / st.wallSeconds, '1/min');
      ctx.rec('e.syscalls_per_min', (st.total * 60) / st.wallSeconds, '1/min');
      const top = Object.entries(st.bySyscall).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k}=${v}`).join(' ');
      log(`    e ${peer.id}: ${st.getxattr} getxattr, ${st.total} syscalls in ${st.wallSeconds.toFixed(0)} s (${top})`);
    }
  },
};

// ---------------------------------------------------------------------------------------------
// f: scale. One master shared by every peer: first the small tree (N/10 files), then grown to N.

interface ScaleMaster {
  m: BenchVolume;
  stage: number;
  /** Current seed of the deep file (changed by the deep-change samples). */
  deepSeed: string;
}

async function scaleMaster(ctx: Ctx, n: number): Promise<ScaleMaster> {
  let sm = ctx.shared.get('scale') as ScaleMaster | undefined;
  if (!sm) {
    const m = await benchVolume('m', ctx.runDir, ctx.runStack);
    sm = { m, stage: 0, deepSeed: 'f:deep:0' };
    ctx.shared.set('scale', sm);
  }
  if (sm.stage < n) {
    const mw = await sm.m.mount('w');
    const t0 = Date.now();
    log(`    building the scale tree: files ${sm.stage}..${n - 1} (8 parallel writers)`);
    // Building the tree is not part of any peer's measurement: no peer runs meanwhile. Give the
    // writer the workload's whole budget; the driver's timeout still applies.
    await writeLayout(mw, { kind: 'scale', n, size: 1024, tag: 'f', from: sm.stage }, 8, ctx.signal);
    log(`    scale tree of ${n} files ready after ${sec(Date.now() - t0).toFixed(0)} s`);
    sm.stage = n;
  }
  return sm;
}

function scaleFiles(sm: ScaleMaster, n: number): FileSpec[] {
  return layoutFiles({ kind: 'scale', n, size: 1024, tag: 'f' }).map((f) => (f.rel === SCALE_DEEP_FILE ? { ...f, seed: sm.deepSeed } : f));
}

async function scaleInitial(ctx: Ctx, n: number, suffix: string): Promise<{ sm: ScaleMaster; run: Running | null; sp: string; s: BenchVolume }> {
  const { peer, signal } = ctx;
  const sm = await scaleMaster(ctx, n);
  const files = scaleFiles(sm, n);
  // Every peer meets a brick that just started, not one left by the writers or the peer before.
  await sm.m.restartBrick();
  log(`    restarted the master's brick (pid ${sm.m.brickPid()})`);
  const s = await benchVolume('s', ctx.runDir, ctx.stack);
  const sp = await s.view();
  if (peer.kind === 'continuous') {
    const t0 = Date.now();
    let run: Running | null = null;
    const rss = new RssSampler(() => run?.pids() ?? [], 1000);
    run = await startPeer(ctx, peer, sm.m, s);
    rss.start();
    let visibleAt: number;
    try {
      visibleAt = await waitVisible(sp, { files }, { signal, intervalMs: 1000, onProgress: progress(`f${suffix} ${peer.id}`, 30_000, ctx) });
    } finally {
      rss.stop();
      const partial = signal.aborted ? 'partial: the sync timed out' : undefined;
      ctx.rec(`f.rss_peak${suffix}`, (rss.peakKb() * 1024) / MB, 'MB', partial);
      ctx.rec(`f.rss_peak_proc${suffix}`, (rss.peakProcKb() * 1024) / MB, 'MB', partial);
      ctx.rec(`f.rss_peak_once${suffix}`, (rss.peakOnceKb() * 1024) / MB, 'MB', partial);
    }
    ctx.rec(`f.initial${suffix}`, sec(visibleAt - t0), 's');
    const samples = rss.samples.filter((x) => x.kb > 0);
    if (samples.length) {
      const q = (f: number) => (samples[Math.min(samples.length - 1, Math.floor(f * samples.length))]!.kb * 1024) / MB;
      log(`    f${suffix} ${peer.id} RSS over the initial sync (MB) at 25/50/75/100 % of the time: ${[0.25, 0.5, 0.75, 1].map((f) => q(f).toFixed(0)).join(' / ')}`);
    }
    return { sm, run, sp, s };
  }
  const mr = await sm.m.mount('r');
  const sw = await s.mount('w');
  const c = await peer.copy(mr, sw, { signal, logFile: path.join(ctx.logDir, `${peer.id}${suffix}.log`) });
  await waitVisible(sp, { files }, { signal, intervalMs: 1000 });
  ctx.rec(`f.initial${suffix}`, c.seconds, 's');
  ctx.rec(`f.rss_peak${suffix}`, (c.peakRssKb * 1024) / MB, 'MB');
  return { sm, run: null, sp, s };
}

const wlF1: Workload = {
  id: 'f1',
  title: 'scale, small tree (N/10 files): initial sync and RSS',
  metrics: (p) => [
    { name: 'initial_small', unit: 's' },
    { name: 'rss_peak_small', unit: 'MB' },
    ...(p.kind === 'continuous' ? [{ name: 'rss_peak_proc_small', unit: 'MB' }, { name: 'rss_peak_once_small', unit: 'MB' }] : []),
  ],
  timeoutSec: (s) => (s.quick ? 550 : 2700),
  async run(ctx) {
    await scaleInitial(ctx, ctx.sizes.scaleFiles / 10, '_small');
  },
};

const wlF2: Workload = {
  id: 'f2',
  title: 'scale, full tree (N files): initial sync, RSS, one change deep in the tree',
  metrics: (p) => [
    { name: 'initial', unit: 's' },
    { name: 'rss_peak', unit: 'MB' },
    ...(p.kind === 'continuous' ? [{ name: 'rss_peak_proc', unit: 'MB' }, { name: 'rss_peak_once', unit: 'MB' }] : []),
    ...(p.id === 'cp' ? [] : [{ name: 'deep_change', unit: 's' }]),
  ],
  timeoutSec: (s) => (s.quick ? 600 : 3600),
  async run(ctx) {
    const { peer, signal } = ctx;
    const { sm, run, sp, s } = await scaleInitial(ctx, ctx.sizes.scaleFiles, '');
    if (peer.id === 'cp') return;
    const mw = await sm.m.mount('w');
    if (run) {
      await run.waitReady(signal, 600_000);
      await ensureFlowing(ctx, run, mw, sp);
    }
    await sleep(5000, undefined, { signal });
    const lat: number[] = [];
    for (let k = 1; k <= 3; k++) {
      sm.deepSeed = `f:deep:${peer.id}:${k}`;
      const f: FileSpec = { rel: SCALE_DEEP_FILE, size: 1024, seed: sm.deepSeed };
      const t0 = Date.now();
      fs.writeFileSync(path.join(mw, f.rel), content(f.seed, f.size));
      let t: number;
      if (run) t = await waitVisible(sp, { files: [f] }, { signal, intervalMs: 10, contentEachPoll: true });
      else {
        const c = await (peer as BatchPeer).copy(await sm.m.mount('r'), await s.mount('w'), { signal, logFile: path.join(ctx.logDir, `${peer.id}-deep${k}.log`) });
        t = t0 + c.seconds * 1000;
        await waitVisible(sp, { files: [f] }, { signal, intervalMs: 10, contentEachPoll: true });
      }
      lat.push(sec(t - t0));
      log(`    f ${peer.id} deep change ${k}/3: ${sec(t - t0).toFixed(3)} s`);
      await sleep(2000, undefined, { signal });
    }
    lat.sort((a, b) => a - b);
    ctx.rec('f.deep_change', lat[1]!, 's');
  },
};

export const WORKLOADS: Workload[] = [wlA, wlB, wlC, wlD, wlE, wlF1, wlF2];
