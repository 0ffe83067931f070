// Soak: N minutes (default 30) of random file-system operations - create, append, truncate,
// rename (files and directories), hard link, unlink, chmod, mkdir, rmdir - on a GlusterFS master
// volume (root-namespace glusterd, written through an ordinary FUSE mount), mirrored by a
// continuous gsyncd session to a directory on another host over SSH (namespace B, real sshd,
// forced-command dispatcher), while the worker is killed with SIGKILL at random intervals (the
// monitor restarts it). At the end the operations stop, the session catches up, and the slave
// must be identical to the master (compareTrees + diff -r).
//
// Reported: operations applied and ops/s sustained, worker kills, the largest lag /status
// reported, end-to-end probe latency (a probe file written every 5 s on the master, timed until
// it is on the slave), the time to converge at the end, aux mounts left behind by killed workers.
//
//   node --import tsx test/soak/soak.ts --minutes 30 [--rate 40] [--kill-min 30] [--kill-max 120] [--seed N]
//   (--kill-max 0: no kills)
//
// Needs root (glusterd, FUSE, namespaces, sshd). Subnet block 231 (docs/testing.md). It is a
// node:test file run directly (not part of npm test): exit status 0 = identical at the end.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { test } from 'node:test';
import { compareTrees, diffR } from '../support/compare.js';
import { createVolume } from '../support/gluster.js';
import { GSYNCD_BIN, startGsyncd, type RunningGsyncd } from '../support/gsyncd.js';
import { twoHosts } from '../support/netns.js';
import { freePort, requireRoot, requireTools, sleep, testCleanup, tmpDir, unmount, waitFor } from '../support/proc.js';
import { alive, getStatus, kill9, randInt, seededRandom, stopRun, workerOf } from '../reliability/lib.js';

const { values: argv } = parseArgs({
  args: process.argv.slice(2),
  options: {
    minutes: { type: 'string', default: '30' },
    rate: { type: 'string', default: '40' },
    'kill-min': { type: 'string', default: '30' },
    'kill-max': { type: 'string', default: '120' },
    seed: { type: 'string' },
  },
  strict: false,
});
const MINUTES = Number(argv.minutes);
const RATE = Number(argv.rate);
const KILL_MIN_S = Number(argv['kill-min']);
const KILL_MAX_S = Number(argv['kill-max']);
const SEED = argv.seed !== undefined ? Number(argv.seed) >>> 0 : (Date.now() ^ (process.pid << 8)) >>> 0;

type OpName = 'create' | 'append' | 'truncate' | 'rename' | 'rename-dir' | 'link' | 'unlink' | 'chmod' | 'mkdir' | 'rmdir';

/** A model of the master tree (relative paths) so every operation is a valid one. */
class Workload {
  readonly dirs = new Set<string>(['']);
  readonly files = new Set<string>();
  readonly counts = new Map<OpName, number>();
  private seq = 0;
  constructor(private readonly root: string, private readonly rng: () => number) {}

  private pick<T>(s: Set<T> | T[]): T | undefined {
    const a = Array.isArray(s) ? s : [...s];
    return a.length ? a[randInt(this.rng, 0, a.length - 1)] : undefined;
  }
  private abs(rel: string): string { return rel ? path.join(this.root, rel) : this.root; }
  private fresh(dir: string, prefix: string): string { return path.posix.join(dir, `${prefix}${(this.seq++).toString(36)}`); }
  private depth(rel: string): number { return rel ? rel.split('/').length : 0; }

  /** One random operation; returns its name, or null when none applied (nothing to act on). */
  step(): OpName | null {
    const r = this.rng();
    const op: OpName = this.files.size < 50 ? (r < 0.7 ? 'create' : 'mkdir')
      : r < 0.22 ? 'create' : r < 0.36 ? 'append' : r < 0.44 ? 'truncate' : r < 0.56 ? 'rename' : r < 0.59 ? 'rename-dir'
      : r < 0.66 ? 'link' : r < 0.78 ? 'unlink' : r < 0.86 ? 'chmod' : r < 0.94 ? 'mkdir' : 'rmdir';
    const done = this.apply(op);
    if (done) this.counts.set(op, (this.counts.get(op) ?? 0) + 1);
    return done ? op : null;
  }

  private apply(op: OpName): boolean {
    switch (op) {
      case 'create': {
        const d = this.pick(this.dirs)!;
        const f = this.fresh(d, 'f');
        fs.writeFileSync(this.abs(f), randomBytes(randInt(this.rng, 0, 3) === 0 ? randInt(this.rng, 0, 256 << 10) : randInt(this.rng, 0, 8192)));
        this.files.add(f);
        return true;
      }
      case 'append': {
        const f = this.pick(this.files);
        if (!f) return false;
        fs.appendFileSync(this.abs(f), randomBytes(randInt(this.rng, 1, 4096)));
        return true;
      }
      case 'truncate': {
        const f = this.pick(this.files);
        if (!f) return false;
        fs.truncateSync(this.abs(f), randInt(this.rng, 0, fs.statSync(this.abs(f)).size + 1000));
        return true;
      }
      case 'rename': {
        const f = this.pick(this.files);
        if (!f) return false;
        const to = this.fresh(this.pick(this.dirs)!, 'r');
        fs.renameSync(this.abs(f), this.abs(to));
        this.files.delete(f);
        this.files.add(to);
        return true;
      }
      case 'rename-dir': {
        const d = this.pick([...this.dirs].filter((x) => x !== ''));
        if (d === undefined) return false;
        const parent = this.pick([...this.dirs].filter((x) => x !== d && !x.startsWith(`${d}/`) && this.depth(x) < 4))!;
        const to = this.fresh(parent, 'D');
        fs.renameSync(this.abs(d), this.abs(to));
        const move = (p: string) => (p === d ? to : p.startsWith(`${d}/`) ? to + p.slice(d.length) : p);
        for (const set of [this.dirs, this.files]) {
          const moved = [...set].map(move);
          set.clear();
          for (const p of moved) set.add(p);
        }
        return true;
      }
      case 'link': {
        const f = this.pick(this.files);
        if (!f) return false;
        const to = this.fresh(this.pick(this.dirs)!, 'h');
        fs.linkSync(this.abs(f), this.abs(to));
        this.files.add(to);
        return true;
      }
      case 'unlink': {
        const f = this.pick(this.files);
        if (!f) return false;
        fs.unlinkSync(this.abs(f));
        this.files.delete(f);
        return true;
      }
      case 'chmod': {
        if (this.rng() < 0.8) {
          const f = this.pick(this.files);
          if (!f) return false;
          fs.chmodSync(this.abs(f), this.pick([0o600, 0o644, 0o640, 0o755, 0o400, 0o4755, 0o1777])!);
        } else {
          const d = this.pick([...this.dirs].filter((x) => x !== ''));
          if (d === undefined) return false;
          fs.chmodSync(this.abs(d), this.pick([0o755, 0o700, 0o750, 0o775])!);
        }
        return true;
      }
      case 'mkdir': {
        const parent = this.pick([...this.dirs].filter((x) => this.depth(x) < 4))!;
        const d = this.fresh(parent, 'd');
        fs.mkdirSync(this.abs(d));
        this.dirs.add(d);
        return true;
      }
      case 'rmdir': {
        const empty = [...this.dirs].filter((d) => d !== '' && ![...this.dirs, ...this.files].some((p) => p.startsWith(`${d}/`)));
        const d = this.pick(empty);
        if (d === undefined) return false;
        fs.rmdirSync(this.abs(d));
        this.dirs.delete(d);
        return true;
      }
    }
  }
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]! : NaN;
}

test(`soak: ${MINUTES} min of random operations on a gluster master over SSH with random worker kills; identical at the end`, { timeout: (MINUTES * 60 + 900) * 1000 }, async (t) => {
  requireRoot();
  requireTools(['gluster', 'glusterfs', 'rsync', '/usr/sbin/sshd', 'ip', 'diff']);
  const stack = testCleanup(t);
  const rng = seededRandom(SEED);
  t.diagnostic(`seed ${SEED}; ${MINUTES} min at up to ${RATE} ops/s; worker kills every ${KILL_MIN_S}-${KILL_MAX_S} s`);

  const vol = await createVolume({ cleanup: stack });
  const view = await vol.fuseMount();
  const hosts = await twoHosts(231, { cleanup: stack });
  const slaveDir = await tmpDir('soak-slave', stack);
  const stateDir = await tmpDir('soak-state', stack);
  await hosts.sshd.setAuthorizedKey(`command="${process.execPath} ${GSYNCD_BIN} --dispatch --root ${slaveDir}",restrict ${hosts.sshd.clientKeyPub}`);
  const port = await freePort();
  const http = `http://127.0.0.1:${port}`;
  const logFile = path.join(stateDir, 'gsyncd.log');
  // The master runs in the root namespace (it mounts the root glusterd's volume) and reaches B
  // through B's veth.
  // SOAK_LOG_LEVEL=trace logs every entry op (large, but it tells how a difference came about).
  const monitor: RunningGsyncd = startGsyncd(['--log-level', process.env['SOAK_LOG_LEVEL'] ?? 'info', '--state-dir', stateDir, '--session-name', 'soak', '--http-bind', `127.0.0.1:${port}`,
    '--log-file', logFile, '--change-interval', '0.5', '--ssh-identity', hosts.sshd.clientKeyPath, '--ssh-known-hosts', hosts.sshd.knownHostsFile,
    `:${vol.name}`, `ssh://root@${hosts.b.ip}:${hosts.sshd.port}:${slaveDir}`]);
  stack.defer('stop gsyncd', () => stopRun(monitor));

  // Aux mounts of killed workers cannot be unmounted by them: the mounts that exist when a
  // worker is killed are its own (or older leftovers); after the kill they are unmounted and
  // counted. A restarted worker makes a new one, never in that list.
  let leakedMounts = 0;
  const auxMounts = (): string[] => fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' '))
    .filter(([src, mnt, type]) => type === 'fuse.glusterfs' && !!mnt?.includes('/gsyncd-aux-mount-') && new RegExp(`^[^:]+:/?${vol.name}$`).test(src ?? ''))
    .map(([, mnt]) => mnt!);
  const reap = async (mounts: string[]) => {
    for (const mnt of mounts) {
      if (!auxMounts().includes(mnt)) continue;
      leakedMounts++;
      await unmount(mnt).catch(() => {});
      try { fs.rmdirSync(mnt); } catch { /* busy */ }
    }
  };

  const wl = new Workload(view, rng);
  for (let i = 0; i < 30; i++) wl.step();
  const keepLog = () => { const to = `/tmp/gsyncd-soak-${process.pid}.log`; fs.copyFileSync(logFile, to); return to; };
  try {
    await waitFor(() => compareTrees(view, slaveDir).length === 0, { what: 'the first sync', timeoutMs: 180_000, intervalMs: 1000 });
  } catch (err) {
    throw new Error(`${(err as Error).message} (gsyncd log: ${keepLog()}; output: ${monitor.output().slice(-2000)})`, { cause: err });
  }
  t.diagnostic(`first sync done; soak starts`);

  const t0 = Date.now();
  const end = t0 + MINUTES * 60_000;
  let ops = 0;
  let kills = 0;
  let maxLagS = 0;
  let statusPolls = 0;
  const verdicts = new Map<string, number>();
  const probes: { name: string; at: number; seenAt?: number }[] = [];
  let probeSeq = 0;
  fs.mkdirSync(path.join(view, 'probes')); // outside the workload's model: never renamed or removed
  let stop = false;

  const opsLoop = (async () => {
    const interval = 1000 / RATE;
    let nextAt = Date.now();
    while (!stop && Date.now() < end) {
      if (wl.step()) ops++;
      nextAt += interval;
      const wait = nextAt - Date.now();
      if (wait > 0) await sleep(wait);
      else if (wait < -1000) nextAt = Date.now(); // falling behind: do not burst
    }
  })();
  const probeLoop = (async () => {
    while (!stop && Date.now() < end) {
      const name = `probe-${probeSeq++}`;
      fs.writeFileSync(path.join(view, 'probes', name), `${Date.now()}\n`);
      probes.push({ name, at: Date.now() });
      await sleep(5000);
    }
  })();
  const watchLoop = (async () => {
    while (!stop) {
      const now = Date.now();
      for (const p of probes) if (p.seenAt === undefined && fs.existsSync(path.join(slaveDir, 'probes', p.name))) p.seenAt = now;
      const st = await getStatus(http);
      if (st) {
        statusPolls++;
        verdicts.set(st.verdict, (verdicts.get(st.verdict) ?? 0) + 1);
        const lag = st.sessions[0]?.lag_seconds;
        if (typeof lag === 'number') maxLagS = Math.max(maxLagS, lag);
      }
      await sleep(1000);
    }
  })();
  const killLoop = (async () => {
    while (KILL_MAX_S > 0 && !stop && Date.now() < end) {
      const wait = randInt(rng, KILL_MIN_S * 1000, KILL_MAX_S * 1000);
      const until = Math.min(end, Date.now() + wait);
      while (!stop && Date.now() < until) await sleep(500);
      if (stop || Date.now() >= end) break;
      const w = workerOf(monitor.child.pid!);
      if (!w) continue;
      const mounts = auxMounts();
      kill9(w.pid);
      kills++;
      await waitFor(() => !alive(w.pid), { what: 'the killed worker to be gone', timeoutMs: 10_000 });
      await reap(mounts);
      t.diagnostic(`${((Date.now() - t0) / 60_000).toFixed(1)} min: killed worker ${w.pid} (${kills} kills, ${ops} ops so far)`);
    }
  })();
  const reportLoop = (async () => {
    while (!stop && Date.now() < end) {
      await sleep(60_000);
      if (!stop && Date.now() < end) t.diagnostic(`${((Date.now() - t0) / 60_000).toFixed(1)} min: ${ops} ops, ${wl.files.size} files, ${wl.dirs.size} dirs, max lag ${maxLagS} s`);
    }
  })();

  await Promise.all([opsLoop, probeLoop, killLoop, reportLoop]);
  const opsSeconds = (Date.now() - t0) / 1000;
  const stoppedAt = Date.now();
  // Catch up, then compare. Give up early when the differences have not changed for 120 s:
  // gsyncd is not working on them (it polls every 0.5 s). A compare walks both whole trees (a
  // stat and the xattrs of every entry, through FUSE on the master): every 15 s, not back to
  // back, or the check itself holds the brick the catch-up needs.
  let last: string[] = [];
  let lastKey = '';
  let sameSince = Date.now();
  let gaveUp = '';
  try {
    await waitFor(async () => {
      last = compareTrees(view, slaveDir);
      if (last.length === 0) return true;
      const key = last.join('\n');
      if (key !== lastKey) { lastKey = key; sameSince = Date.now(); }
      if (Date.now() - sameSince > 120_000) {
        const st = await getStatus(http);
        gaveUp = `${last.length} differences have not changed for 120 s while /status said ${st?.verdict} ${JSON.stringify(st?.reasons.map((r) => r.code) ?? [])}`;
        return true;
      }
      return false;
    }, { what: 'the slave to catch up after the soak', timeoutMs: 600_000, intervalMs: 15_000 });
  } catch (err) {
    gaveUp = (err as Error).message;
  } finally {
    stop = true;
    await watchLoop;
  }
  const catchUpS = (Date.now() - stoppedAt) / 1000;
  const latencies = probes.filter((p) => p.seenAt !== undefined).map((p) => (p.seenAt! - p.at) / 1000).sort((a, b) => a - b);
  const counts = [...wl.counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  const report = [
    `duration ${(opsSeconds / 60).toFixed(1)} min; ${ops} operations = ${(ops / opsSeconds).toFixed(1)} ops/s sustained (${counts})`,
    `final tree: ${wl.files.size} file names, ${wl.dirs.size} directories`,
    `worker kills: ${kills}; aux mounts left by killed workers (reaped): ${leakedMounts}`,
    `max lag reported by /status: ${maxLagS} s (${statusPolls} polls; verdicts ${JSON.stringify([...verdicts])})`,
    `probe latency (write on master -> present on slave), ${latencies.length} probes: p50 ${pct(latencies, 0.5).toFixed(1)} s, p95 ${pct(latencies, 0.95).toFixed(1)} s, max ${pct(latencies, 1).toFixed(1)} s`,
    last.length ? `NOT identical ${catchUpS.toFixed(0)} s after the operations stopped: ${gaveUp}` : `caught up ${catchUpS.toFixed(1)} s after the operations stopped`,
  ];
  for (const l of report) t.diagnostic(l);
  fs.writeFileSync(path.join('/tmp', `gsyncd-soak-${process.pid}.txt`), `${report.join('\n')}\n`);
  if (last.length) assert.fail(`slave differs from the master (${gaveUp}):\n  ${last.slice(0, 20).join('\n  ')}\n(gsyncd log: ${keepLog()})`);
  assert.equal(await diffR(view, slaveDir), '', 'diff -r master slave');
  t.diagnostic('identical at the end: compareTrees and diff -r report no difference');
});
