// The peers compared: gsyncd (gluster master -> gluster slave over ssh, the target setup), gsyncd
// locally (:M :S), real geo-replication (M -> localhost::S), lsyncd (inotify on the master FUSE
// mount, default.rsyncssh to the slave FUSE mount over ssh), and the raw copies rsync -a / cp -a
// from a master FUSE mount onto the slave FUSE mount (the physical limit), and rsync -a -e ssh
// to localhost onto the same mount (what gsyncd over ssh is compared with).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CleanupStack } from '../test/support/proc.js';
import { GSYNCD_JS, deleteGeoRepSession, gluster, log, type SshSetup } from './env.js';
import { allProcs, auxMountPids, RssSampler, withDescendants } from './measure.js';
import type { BenchVolume } from './volumes.js';

export interface StartCtx {
  master: BenchVolume;
  slave: BenchVolume;
  /** Per-start scratch directory (state dir, configs). */
  work: string;
  /** Where this start's logs are kept (results). */
  logDir: string;
  stack: CleanupStack;
  signal: AbortSignal;
}

export interface Running {
  /** The peer's own processes (CPU, RSS, strace). */
  pids(): number[];
  /** pids() plus the glusterfs aux-mount client processes the peer made. */
  pidsWithMounts(): number[];
  /** Until the peer finished its start-up sync and watches for changes. */
  waitReady(signal: AbortSignal, timeoutMs: number): Promise<void>;
  /** Bytes the peer reports having sent so far; null when it does not say. */
  bytesSent(): number | null;
  /** Resolves when the peer reported a completed pass that ended at or after `t` and then none
   *  for 3 s (gsyncd only; others resolve at once). */
  passAfter(t: number, timeoutMs: number, signal: AbortSignal): Promise<void>;
  /** Restart a peer that stopped propagating (geo-rep only). */
  kick?(signal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

export interface ContinuousPeer {
  kind: 'continuous';
  id: string;
  label: string;
  start(ctx: StartCtx): Promise<Running>;
}

export interface CopyResult {
  seconds: number;
  bytesSent: number | null;
  peakRssKb: number;
}

export interface BatchPeer {
  kind: 'batch';
  id: string;
  label: string;
  /** Copy src/ onto dst/ (contents of src into dst). */
  copy(src: string, dst: string, o: { del?: boolean; signal: AbortSignal; logFile: string }): Promise<CopyResult>;
  /** Whether it can propagate deletes (rsync --delete) */
  canDelete: boolean;
}

export type Peer = ContinuousPeer | BatchPeer;

// ---------------------------------------------------------------------------------------------

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('close', () => r()));
}

async function stopChild(child: ChildProcess, graceMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const done = waitExit(child);
  const t = await Promise.race([done.then(() => true), sleep(graceMs).then(() => false)]);
  if (!t) {
    log(`pid ${child.pid} ignored SIGTERM for ${graceMs / 1000} s: SIGKILL`);
    for (const p of withDescendants([child.pid!]).reverse()) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await done;
  }
}

async function until(what: string, cond: () => boolean | Promise<boolean>, signal: AbortSignal, timeoutMs: number, intervalMs = 200): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    signal.throwIfAborted();
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(intervalMs, undefined, { signal });
  }
}

// ---------------------------------------------------------------------------------------------
// gsyncd

export function gsyncdPeer(id: string, label: string, remote: SshSetup | null, extraArgs: string[] = []): ContinuousPeer {
  return {
    kind: 'continuous',
    id,
    label,
    async start(ctx) {
      const slaveUrl = remote ? `root@127.0.0.1::${ctx.slave.name}` : `:${ctx.slave.name}`;
      const args = [
        GSYNCD_JS,
        '--state-dir', path.join(ctx.work, 'state'),
        '--log-level', process.env['GSYNCD_BENCH_LOG_LEVEL'] ?? 'info',
        // Tunables under study (e.g. GSYNCD_BENCH_ARGS='--delete-delay 0'), before the peer's own.
        ...(process.env['GSYNCD_BENCH_ARGS'] ?? '').split(/\s+/).filter(Boolean),
        ...(remote ? ['--remote-gsyncd', `${process.execPath} ${GSYNCD_JS}`, '--ssh-identity', remote.identity] : []),
        ...extraArgs,
        `:${ctx.master.name}`,
        slaveUrl,
      ];
      fs.mkdirSync(ctx.logDir, { recursive: true });
      const logFile = path.join(ctx.logDir, 'gsyncd.ndjson');
      const out = fs.createWriteStream(logFile, { flags: 'a' });
      out.write(`# ${process.execPath} ${args.join(' ')}\n`);
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      log(`  gsyncd pid ${child.pid}: ${slaveUrl}`);
      let ready = false;
      let bytes = 0;
      let failed: string | null = null;
      const passEnds: number[] = [];
      const onLine = (line: string) => {
        out.write(`${line}\n`);
        if (!line.startsWith('{')) return;
        let o: Record<string, unknown>;
        try {
          o = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        if (o['msg'] === 'pass complete') {
          ready = true;
          bytes += Number(o['bytesSent'] ?? 0);
          passEnds.push(Date.parse(String(o['time'] ?? '')) || Date.now());
        } else if (o['msg'] === 'initial sync complete') ready = true;
        else if (Number(o['level'] ?? 0) >= 50) failed = String(o['msg'] ?? line).slice(0, 300);
      };
      readline.createInterface({ input: child.stdout! }).on('line', onLine);
      readline.createInterface({ input: child.stderr! }).on('line', onLine);
      let exitCode: number | null = null;
      child.on('close', (c) => {
        exitCode = c ?? -1;
        out.end();
      });
      const slavePids = (procs = allProcs()) =>
        remote
          ? procs.filter((p) => p.cmdline.includes('--slave') && p.cmdline.includes(GSYNCD_JS) && p.cmdline.some((a) => a.endsWith(`:${ctx.slave.name}`))).map((p) => p.pid)
          : [];
      const pids = () => {
        const procs = allProcs();
        return withDescendants([child.pid!, ...slavePids(procs)], procs);
      };
      const stop = ctx.stack.defer(`stop gsyncd ${child.pid}`, () => stopChild(child));
      return {
        pids,
        pidsWithMounts() {
          const procs = allProcs();
          return [...withDescendants([child.pid!, ...slavePids(procs)], procs), ...auxMountPids(ctx.master.name, procs), ...auxMountPids(ctx.slave.name, procs)];
        },
        waitReady: (signal, timeoutMs) =>
          until('gsyncd to complete its first pass', () => {
            if (exitCode !== null) throw new Error(`gsyncd exited ${exitCode} before its first pass${failed ? `: ${failed}` : ''} (log ${logFile})`);
            return ready;
          }, signal, timeoutMs, 100),
        bytesSent: () => bytes,
        // A pass that ended at or after t, then 3 s without another pass ending (trailing passes
        // of the same change are counted too). Gives up quietly after timeoutMs.
        passAfter: (t, timeoutMs, signal) =>
          until('gsyncd passes to complete', () => {
            const last = passEnds[passEnds.length - 1] ?? 0;
            return last >= t && Date.now() - last >= 3000;
          }, signal, timeoutMs, 100).catch((e: unknown) => {
            if (signal.aborted) throw e;
          }),
        stop,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// real geo-replication

const GEOREP_DIR = '/var/lib/glusterd/geo-replication';

function georepStatus(text: string): { status: string; crawl: string } | null {
  const m = /\b(Active|Passive|Faulty|Created|Initializing\.\.\.|Stopped|Offline)\s+(Changelog Crawl|History Crawl|Hybrid Crawl|N\/A)/.exec(text);
  return m ? { status: m[1]!, crawl: m[2]! } : null;
}

export function georepPeer(): ContinuousPeer {
  return {
    kind: 'continuous',
    id: 'georep',
    label: 'geo-rep',
    async start(ctx) {
      const M = ctx.master.name;
      const S = ctx.slave.name;
      const geo = (...a: string[]) => gluster(['volume', 'geo-replication', M, `localhost::${S}`, ...a], 180_000);
      const must = async (...a: string[]) => {
        const r = await geo(...a);
        if (r.code !== 0) throw new Error(`gluster volume geo-replication ${M} localhost::${S} ${a.join(' ')}: ${(r.stderr || r.stdout).trim()}`);
        return r;
      };
      fs.mkdirSync(ctx.logDir, { recursive: true });
      ctx.stack.defer(`delete geo-rep session ${M} -> ${S}`, async () => {
        const session = `${M}_localhost_${S}`;
        for (const [src, name] of [
          [`/var/log/glusterfs/geo-replication/${session}`, 'georep-primary'],
          [`/var/log/glusterfs/geo-replication-secondaries/${session}`, 'georep-secondary'],
        ] as const) {
          try {
            fs.cpSync(src, path.join(ctx.logDir, name), { recursive: true });
          } catch {
            // no such log
          }
        }
        await deleteGeoRepSession(M, S);
      });
      await must('create', 'push-pem', 'force');
      // push-pem adds the geo-rep keys to root's authorized_keys asynchronously (hook script):
      // starting before they are there makes the monitor fail with "Permission denied".
      const keys = fs.readFileSync(path.join(GEOREP_DIR, 'common_secret.pem.pub'), 'utf8')
        .split('\n').map((l) => l.split(/\s+/).find((w) => w.startsWith('AAAA'))).filter((k): k is string => !!k);
      await until('geo-rep keys in /root/.ssh/authorized_keys', () => {
        const auth = fs.existsSync('/root/.ssh/authorized_keys') ? fs.readFileSync('/root/.ssh/authorized_keys', 'utf8') : '';
        return keys.every((k) => auth.includes(k));
      }, ctx.signal, 60_000, 200);
      // RECIPES-gluster.md section 7: needed with Debian's rsync, else nothing reaches the slave.
      await must('config', 'secondary_access_mount', 'true');
      await must('start');
      const startedAt = Date.now();
      let restarts = 0;
      const procsOf = (procs = allProcs()) => {
        const mine = procs.filter((p) => p.cmdline.some((a) => a.endsWith('gsyncd.py')) &&
          (p.cmdline.includes(`localhost::${S}`) || p.cmdline.some((a) => a.includes(`/${M}_localhost_${S}/`))));
        return withDescendants(mine.map((p) => p.pid), procs);
      };
      const running: Running = {
        pids: () => procsOf(),
        pidsWithMounts() {
          const procs = allProcs();
          return [...procsOf(procs), ...auxMountPids(M, procs), ...auxMountPids(S, procs)];
        },
        async waitReady(signal, timeoutMs) {
          let badSince = Date.now();
          await until('geo-rep to be Active in Changelog Crawl', async () => {
            const r = await geo('status');
            const st = georepStatus(r.stdout);
            if (st?.status === 'Active' && st.crawl === 'Changelog Crawl') return true;
            if (st?.status === 'Active' || st?.status === 'Initializing...') badSince = Date.now();
            else if (Date.now() - badSince > 30_000 && restarts < 3) {
              restarts++;
              log(`  geo-rep is ${st?.status ?? 'unknown'} for 30 s: restarting the session (${restarts})`);
              await geo('stop', 'force');
              await must('start');
              badSince = Date.now();
            }
            return false;
          }, signal, timeoutMs, 1000);
          log(`  geo-rep in Changelog Crawl ${((Date.now() - startedAt) / 1000).toFixed(1)} s after start`);
          // Seen on this machine (GlusterFS 10.3): a change made less than ~20-30 s after the
          // worker switched to Changelog Crawl was never picked up by the live changelog crawl,
          // and neither was anything after it (only a restart's history crawl caught up; the
          // live crawl stayed dead). With 60 s of quiet first it worked every time. So: wait
          // 60 s; the workloads then check with a canary file that changes flow.
          await sleep(60_000, undefined, { signal });
        },
        async kick(signal) {
          log('  geo-rep: restarting the session (stop force, start)');
          await geo('stop', 'force');
          await must('start');
          await running.waitReady(signal, 300_000);
        },
        bytesSent: () => null,
        passAfter: async () => undefined,
        stop: async () => {
          await geo('stop', 'force');
        },
      };
      return running;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// lsyncd

export function lsyncdPeer(ssh: SshSetup, delaySeconds = 1): ContinuousPeer {
  return {
    kind: 'continuous',
    id: 'lsyncd',
    label: 'lsyncd',
    async start(ctx) {
      const src = await ctx.master.mount('w'); // inotify sees only changes made through this mount
      const dst = await ctx.slave.mount('w');
      fs.mkdirSync(ctx.logDir, { recursive: true });
      fs.mkdirSync(ctx.work, { recursive: true });
      const logFile = path.join(ctx.logDir, 'lsyncd.log');
      const conf = path.join(ctx.work, 'lsyncd.conf.lua');
      const q = (s: string) => JSON.stringify(s);
      fs.writeFileSync(conf, `settings {
  logfile = ${q(logFile)},
  statusFile = ${q(path.join(ctx.work, 'lsyncd.status'))},
  statusInterval = 5,
  nodaemon = true,
  insist = true,
}
sync {
  default.rsyncssh,
  source = ${q(src)},
  host = "127.0.0.1",
  targetdir = ${q(dst)},
  delay = ${delaySeconds},
  rsync = { archive = true, compress = false, whole_file = false },
  ssh = { identityFile = ${q(ssh.identity)}, options = { StrictHostKeyChecking = "no", BatchMode = "yes" } },
}
`);
      fs.copyFileSync(conf, path.join(ctx.logDir, 'lsyncd.conf.lua'));
      const child = spawn('lsyncd', ['-nodaemon', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
      const out = fs.createWriteStream(path.join(ctx.logDir, 'lsyncd.stdout'));
      child.stdout!.pipe(out);
      child.stderr!.pipe(out);
      let exitCode: number | null = null;
      child.on('close', (c) => (exitCode = c ?? -1));
      log(`  lsyncd pid ${child.pid}`);
      const stop = ctx.stack.defer(`stop lsyncd ${child.pid}`, () => stopChild(child, 10_000));
      return {
        pids: () => withDescendants([child.pid!]),
        pidsWithMounts: () => withDescendants([child.pid!]),
        waitReady: (signal, timeoutMs) =>
          until('lsyncd to finish its startup sync', () => {
            if (exitCode !== null) throw new Error(`lsyncd exited ${exitCode} (log ${logFile})`);
            const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
            return /Startup of .* finished/.test(text);
          }, signal, timeoutMs, 100),
        bytesSent: () => null,
        passAfter: async () => undefined,
        stop,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// raw copies

async function timedCopy(cmd: string, args: string[], o: { signal: AbortSignal; logFile: string }): Promise<{ seconds: number; stdout: string; peakRssKb: number }> {
  fs.mkdirSync(path.dirname(o.logFile), { recursive: true });
  fs.appendFileSync(o.logFile, `# ${cmd} ${args.join(' ')}\n`);
  const t0 = performance.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const rss = new RssSampler(() => withDescendants([child.pid!]), 250).start();
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const onAbort = () => child.kill('SIGKILL');
  o.signal.addEventListener('abort', onAbort);
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  o.signal.removeEventListener('abort', onAbort);
  rss.stop();
  const seconds = (performance.now() - t0) / 1000;
  fs.appendFileSync(o.logFile, `${stdout}${stderr}# exit ${code} after ${seconds.toFixed(2)} s\n`);
  o.signal.throwIfAborted();
  if (code !== 0) throw new Error(`${cmd} exited ${code}: ${stderr.trim().slice(-500)}`);
  return { seconds, stdout, peakRssKb: rss.peakKb() };
}

export function rsyncPeer(): BatchPeer {
  return rsyncBatchPeer('rsync', 'rsync -a', [], '');
}

/** Raw `rsync -a -e ssh` to localhost onto the slave mount: what gsyncd over ssh is compared with. */
export function rsyncSshPeer(ssh: SshSetup): BatchPeer {
  return rsyncBatchPeer('rsync-ssh', 'rsync -a -e ssh', ['-e', `ssh -i ${ssh.identity} -o BatchMode=yes -o StrictHostKeyChecking=no`], 'localhost:');
}

function rsyncBatchPeer(id: string, label: string, transport: string[], destPrefix: string): BatchPeer {
  return {
    kind: 'batch',
    id,
    label,
    canDelete: true,
    async copy(src, dst, o) {
      const r = await timedCopy('rsync', ['-a', '--stats', ...transport, ...(o.del ? ['--delete'] : []), `${src}/`, `${destPrefix}${dst}/`], o);
      const m = /Total bytes sent:\s*([\d,.]+)/.exec(r.stdout);
      return { seconds: r.seconds, peakRssKb: r.peakRssKb, bytesSent: m ? Number(m[1]!.replace(/[,.]/g, '')) : null };
    },
  };
}

export function cpPeer(): BatchPeer {
  return {
    kind: 'batch',
    id: 'cp',
    label: 'cp -a',
    canDelete: false,
    async copy(src, dst, o) {
      const r = await timedCopy('cp', ['-a', `${src}/.`, `${dst}/`], o);
      return { seconds: r.seconds, peakRssKb: r.peakRssKb, bytesSent: null };
    },
  };
}
