// How a batch reaches the slave: entry ops over the endpoint, file data by rsync runs or tar
// streams and directory attributes by rsync runs (parallel, retried, read from the read mount
// once it has settled).
import { displayPath, parentOf, type BytePath } from '../core/bytepath.js';
import { dirsAlongRuns, splitForJobs } from '../core/jobs.js';
import { opPaths, type EntryOp, type OpResult } from '../core/ops.js';
import type { DataItem } from '../core/plan.js';
import { chooseSyncMethod, type SyncMethod } from '../core/sync-method.js';
import { destPath, failedPathsOf, runRsync, vanishedPathsOf, type RsyncRun } from '../transport/rsync.js';
import { runTar, type TarRun } from '../transport/tar.js';
import { rsyncSucceeded, type Batch, type EngineContext, type PathFailure } from './engine-state.js';

/** Below this many files a batch reads from the uncached root rather than wait for the read mount. */
const READ_MOUNT_MIN_FILES = 200;

export async function applyOps(ctx: EngineContext, ops: EntryOp[]): Promise<[EntryOp, OpResult][]> {
  if (ops.length === 0) return [];
  const moving = ops.filter((op) => op.op !== 'mark' && op.op !== 'setattr');
  if (moving.length > 0) ctx.idsStale(moving);
  const results = await ctx.slave.apply(ops, ctx.cfg.markKey);
  ctx.events.onEntryOps?.(ops, results);
  ctx.log.trace?.({ ops: ops.map((op, i) => `${op.op} ${opPaths(op).map(displayPath).join(' -> ')}${results[i]?.ok ? '' : ` (${results[i]?.ok === false ? results[i]!.errno : 'no result'})`}`) }, 'entry ops applied');
  return ops.map((op, i) => [op, results[i] ?? { ok: false, errno: 'EIO', message: 'no result from slave' }]);
}

/**
 * Where rsync reads a batch's data: the master's read mount (cached, far fewer round trips)
 * once it has settled since the batch's last listing, so that every change the listings saw
 * (and the marks will cover) is visible through its caches; else the uncached root. A small
 * batch does not wait for it.
 */
export async function dataRoot(ctx: EngineContext, batch: Batch, files: number): Promise<string> {
  const reader = files > 0 ? await ctx.master.readMount?.() : null;
  if (!reader) return ctx.master.root;
  const wait = batch.listedUntil + reader.settleMs - Date.now();
  if (wait > 0) {
    if (files < READ_MOUNT_MIN_FILES) return ctx.master.root;
    await sleepUnlessStopped(ctx, wait);
  }
  return reader.root;
}

/** One transfer of a batch: an rsync run (plain, --inplace or --sparse) or a tar stream. */
interface Job {
  readonly paths: BytePath[];
  readonly via: 'rsync' | 'inplace' | 'sparse' | 'tar';
}

/**
 * Send the data in up to sync-jobs parallel rsync runs and tar streams (--sync-method, see
 * chooseSyncMethod), split by bytes, reading from `root`. A transfer that fails is retried with
 * backoff, from the uncached root; what still fails is reported per path and never marked synced.
 */
export async function sendData(ctx: EngineContext, items: DataItem[], root: string, parallel = ctx.cfg.syncJobs, dirsAlong: readonly BytePath[] = [], method: SyncMethod = ctx.cfg.syncMethod): Promise<{ bytesSent: number; failed: PathFailure[]; dirsLeft: BytePath[] }> {
  if (items.length === 0) return { bytesSent: 0, failed: [], dirsLeft: [...dirsAlong] };
  const jobs = transferJobs(items, parallel, method);
  // A directory's attributes ride along with the one rsync run that writes into it: set by one
  // of several, its times could be disturbed by another one still writing there. Never with a
  // tar stream (it does not set directories' attributes): those are left for a run of their own.
  const { along, left } = dirsAlongRuns(jobs.map((j) => j.paths), dirsAlong);
  jobs.forEach((j, k) => { if (j.via === 'tar') left.push(...along[k]!); else j.paths.push(...along[k]!); });
  let bytesSent = 0;
  const failed: PathFailure[] = [];
  await Promise.all(jobs.map(async (job) => {
    const what = job.via === 'tar' ? 'tar stream' : 'rsync';
    let run: RsyncRun | TarRun | null = null;
    for (let attempt = 0; attempt <= ctx.cfg.maxRsyncRetries; attempt++) {
      if (attempt > 0) await sleepUnlessStopped(ctx, ctx.cfg.retryDelayMs(attempt));
      if (attempt > 0 && ctx.stopRequested) break;
      // A retry reads from the uncached root: a failing read mount must not fail the batch.
      const from = attempt === 0 ? root : ctx.master.root;
      run = await runJob(ctx, job, from);
      ctx.log.debug({ files: job.paths.length, exitCode: run.exitCode, bytesSent: run.bytesSent, ms: run.durationMs, via: job.via }, `${what} run`);
      ctx.events.onRsync?.(run);
      bytesSent += run.bytesSent;
      if (rsyncSucceeded(run.result)) break;
      const level = attempt === ctx.cfg.maxRsyncRetries ? 'error' : 'warn';
      ctx.log[level]({ exitCode: run.exitCode, result: run.result, attempt: attempt + 1, files: job.paths.length, stderr: run.stderr.slice(0, 4000) }, `${what} failed`);
    }
    if (!run) return;
    // Not transferred: what holds them stays unmarked (churn, redone without backing off).
    const gone = 'vanished' in run ? [...run.vanished]
      : run.result === 'vanished' ? [...((!run.stderrCut && vanishedPathsOf(run.stderr, job.paths, [root, ctx.master.root])) || job.paths)] : [];
    for (const p of gone) failed.push([p, 'vanished on the master during the transfer', 'ENOENT']);
    if (gone.length > 0) ctx.log.info({ vanished: gone.length, stderr: run.stderr.slice(0, 2000) }, 'some files vanished on the master during transfer; their directories are revisited');
    if (!rsyncSucceeded(run.result)) {
      const why = `${job.via === 'tar' ? 'tar' : 'rsync'} exit ${run.exitCode} (${run.result})`;
      const pinned = 'failed' in run ? run.failed
        : run.result === 'partial' && !run.stderrCut ? failedPathsOf(run.stderr, job.paths, [root, ctx.master.root, destPath(ctx.slave.rsyncTarget().dest)]) : null;
      for (const p of pinned ?? job.paths) failed.push([p, why, undefined]);
    }
  }));
  return { bytesSent, failed, dirsLeft: left };
}

/** tar streams, rsync runs and the one --inplace run, each kind split over up to `parallel`. */
function transferJobs(items: DataItem[], parallel: number, method: SyncMethod): Job[] {
  // Files with holes go in an rsync run of their own with --sparse: it makes rsync scan every
  // block of a file for zeros (measured over ssh: 100 MiB of dense data in 2.93 s, not 1.46 s).
  const holey = (i: DataItem) => !!i.sparse && !i.inplace;
  const sparse = items.filter(holey);
  const chosen = chooseSyncMethod(items.filter((i) => !holey(i)), method);
  const copies = chosen.rsync.filter((i) => !i.inplace);
  const inplace = chosen.rsync.filter((i) => i.inplace);
  // Both kinds at once share the sync-jobs between them.
  const tarJobs = chosen.tar.length && copies.length ? Math.max(1, Math.ceil(parallel / 2)) : parallel;
  const rsyncJobs = chosen.tar.length && copies.length ? Math.max(1, parallel - tarJobs) : parallel;
  const jobs: Job[] = [
    ...splitForJobs(chosen.tar, tarJobs, (i) => parentOf(i.path)).map((c) => ({ paths: c.map((i) => i.path), via: 'tar' as const })),
    ...splitForJobs(copies, rsyncJobs, (i) => parentOf(i.path)).map((c) => ({ paths: c.map((i) => i.path), via: 'rsync' as const })),
  ];
  if (sparse.length) jobs.push({ paths: sparse.map((i) => i.path), via: 'sparse' });
  if (inplace.length) jobs.push({ paths: inplace.map((i) => i.path), via: 'inplace' });
  return jobs;
}

function runJob(ctx: EngineContext, job: Job, from: string): Promise<RsyncRun | TarRun> {
  if (job.via === 'tar') return runTar(ctx.cfg.tar, from, ctx.slave.rsyncTarget(), job.paths);
  const extra = job.via === 'inplace' ? ['--inplace'] : job.via === 'sparse' ? ['--sparse'] : [];
  const cfg = extra.length ? { ...ctx.cfg.rsync, extraOptions: [...ctx.cfg.rsync.extraOptions, ...extra] } : ctx.cfg.rsync;
  return runRsync(cfg, from, ctx.slave.rsyncTarget(), job.paths);
}

/**
 * Set directories' mode, owner and times from the master (rsync: nanosecond times). The root
 * goes in a run of its own that excludes its children: with -d, rsync copies the contents of a
 * listed "." (one level, not in place, which would break hard links). Returns failed dirs ('' = root).
 */
export async function syncDirAttrs(ctx: EngineContext, dirs: BytePath[]): Promise<PathFailure[]> {
  const others = dirs.filter((p) => p !== '.');
  const failed = (await sendData(ctx, others.map((p) => ({ path: p, size: 0, inplace: false })), ctx.master.root, 1, [], 'rsync')).failed;
  if (dirs.includes('.')) {
    const cfg = { ...ctx.cfg.rsync, extraOptions: [...ctx.cfg.rsync.extraOptions, '--exclude=/*'] };
    const run = await runRsync(cfg, ctx.master.root, ctx.slave.rsyncTarget(), ['.']);
    ctx.events.onRsync?.(run);
    if (!rsyncSucceeded(run.result)) failed.push(['', `rsync exit ${run.exitCode} (${run.result}) setting the root's attributes`, undefined]);
  }
  return failed;
}

async function sleepUnlessStopped(ctx: EngineContext, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!ctx.stopRequested && Date.now() < until) await new Promise((r) => setTimeout(r, Math.min(100, until - Date.now())));
}
