// The machine-level setup the peers need, each step undone by the run's cleanup stack:
// glusterd (reused, or started and stopped again), sshd on port 22 (reused, or started and stopped
// by pid), passwordless root ssh to localhost/127.0.0.1/$(hostname) (lines we add to
// /root/.ssh/{authorized_keys,known_hosts} are removed again, a key we generate is deleted),
// geo-replication keys (gsec_create; files it created are removed), and leftovers of crashed
// bench runs (volumes gsb<pid>n*, their geo-rep sessions and mounts).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { hostname, cpus, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGlusterd } from '../test/support/gluster.js';
import { type CleanupStack, mountsBelow, run, mustRun, sleep, unmount, waitFor } from '../test/support/proc.js';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
/** gsyncd as built by run.sh into bench/.build (a snapshot: a concurrent `npm run build` in the
 *  checkout cannot change the program under test mid-run). */
export const GSYNCD_JS = process.env['GSYNCD_BENCH_BIN'] ?? path.join(REPO, 'bench/.build/bin/gsyncd.js');
export const BENCH_BASE = process.env['GSYNCD_BENCH_DIR'] ?? '/var/tmp/gsyncd-bench';
export const BRICK_BASE = path.join(BENCH_BASE, 'bricks');
export const HOST = hostname();
export const SSH_DIR = '/root/.ssh';
const GEOREP_DIR = '/var/lib/glusterd/geo-replication';
export const VOLUME_RE = /^gsb(\d+)n\d+[a-z]+$/;

export function log(msg: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

function readLines(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
  } catch {
    return [];
  }
}

/** Remove from `file` the lines that were not in `before` and satisfy `pred`. */
function removeAddedLines(file: string, before: readonly string[], pred: (l: string) => boolean): number {
  if (!fs.existsSync(file)) return 0;
  const keep = new Set(before);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const out = lines.filter((l) => !l.trim() || keep.has(l) || !pred(l));
  const removed = lines.length - out.length;
  if (removed) fs.writeFileSync(file, out.join('\n').replace(/\n*$/, '\n'));
  return removed;
}

function listening22(): boolean {
  try {
    const out = execFileSync('ss', ['-Hltn', 'sport = :22'], { encoding: 'utf8' });
    return out.trim().length > 0;
  } catch {
    return false;
  }
}

export interface SshSetup {
  identity: string;
}

/**
 * Passwordless root ssh to localhost, 127.0.0.1 and the host name on port 22, as real
 * geo-replication needs (RECIPES-gluster.md section 7). Everything added is undone by `stack`.
 */
export async function setupRootSsh(stack: CleanupStack): Promise<SshSetup> {
  // sshd
  if (!listening22()) {
    fs.mkdirSync('/run/sshd', { recursive: true });
    const pidFile = '/run/gsyncd-bench-sshd.pid';
    await mustRun('/usr/sbin/sshd', ['-o', `PidFile=${pidFile}`]);
    // The pid file can exist before sshd has written its pid into it: wait for the number.
    const pidIn = () => { try { return Number(fs.readFileSync(pidFile, 'utf8').trim()) || 0; } catch { return 0; } };
    await waitFor(() => pidIn() > 0 && listening22(), { what: 'sshd on port 22', timeoutMs: 10_000, intervalMs: 100 });
    const pid = pidIn();
    log(`started sshd (pid ${pid}) on port 22`);
    stack.defer('stop the sshd we started', async () => {
      if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sshd') process.kill(pid, 'SIGTERM');
      fs.rmSync(pidFile, { force: true });
    });
  } else log('sshd already listens on port 22: using it');

  // keys
  const createdDir = !fs.existsSync(SSH_DIR);
  fs.mkdirSync(SSH_DIR, { recursive: true, mode: 0o700 });
  if (createdDir) stack.defer(`remove ${SSH_DIR} if we left it empty`, () => {
    try {
      fs.rmdirSync(SSH_DIR);
    } catch {
      // not empty: someone else's files are in it
    }
  });
  const authFile = path.join(SSH_DIR, 'authorized_keys');
  const knownFile = path.join(SSH_DIR, 'known_hosts');
  const authBefore = readLines(authFile);
  const knownBefore = readLines(knownFile);
  const existing = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => path.join(SSH_DIR, n)).find((f) => fs.existsSync(f) && fs.existsSync(`${f}.pub`));
  let identity = existing;
  if (!identity) {
    identity = path.join(SSH_DIR, 'id_ed25519');
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'gsyncd-bench', '-f', identity]);
    const id = identity;
    stack.defer('remove the ssh key we generated', () => {
      fs.rmSync(id, { force: true });
      fs.rmSync(`${id}.pub`, { force: true });
    });
  }
  const pub = fs.readFileSync(`${identity}.pub`, 'utf8').trim();
  if (!authBefore.includes(pub)) {
    fs.appendFileSync(authFile, `${pub}\n`, { mode: 0o600 });
  }
  fs.chmodSync(authFile, 0o600);
  // Lines added to authorized_keys by us or by geo-rep's push-pem (command="...gsyncd" / "tar ...")
  // during the run are removed at the end; lines that were there before stay.
  const georepKeys = () => ['common_secret.pem.pub', 'secret.pem.pub', 'tar_ssh.pem.pub']
    .flatMap((f) => readLines(path.join(GEOREP_DIR, f)))
    .map((l) => l.split(/\s+/).find((w) => w.startsWith('AAAA')) ?? '\0');
  stack.defer('remove the authorized_keys lines we added', () => {
    const keys = new Set([pub.split(/\s+/)[1]!, ...georepKeys()]);
    removeAddedLines(authFile, authBefore, (l) => [...keys].some((k) => l.includes(k)) || /gsyncd|tar \$\{SSH_ORIGINAL_COMMAND/.test(l));
  });
  stack.defer('remove the known_hosts lines we added', () => removeAddedLines(knownFile, knownBefore, () => true));
  for (const h of ['localhost', '127.0.0.1', HOST]) {
    await mustRun('ssh', ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new', '-o', 'ConnectTimeout=10', '-i', identity, `root@${h}`, 'true'], { timeoutMs: 30_000 });
  }
  log(`passwordless root ssh to localhost, 127.0.0.1 and ${HOST} works (key ${identity})`);
  return { identity };
}

/** geo-replication's keys (gsec_create); files it creates are removed at the end. */
export async function setupGeoRepKeys(stack: CleanupStack): Promise<void> {
  const files = ['common_secret.pem.pub', 'secret.pem', 'secret.pem.pub', 'tar_ssh.pem', 'tar_ssh.pem.pub'].map((f) => path.join(GEOREP_DIR, f));
  const before = new Set(files.filter((f) => fs.existsSync(f)));
  await mustRun('gluster', ['system::', 'execute', 'gsec_create'], { timeoutMs: 120_000 });
  stack.defer('remove the geo-replication keys gsec_create made', () => {
    for (const f of files) if (!before.has(f)) fs.rmSync(f, { force: true });
  });
}

/** The root glusterd (started when none runs; then stopped at the end if it has no volumes). */
export async function setupGlusterd(stack: CleanupStack): Promise<void> {
  const g = await ensureGlusterd();
  if (g.startedNow) {
    log(`started glusterd (pid ${g.pid})`);
    stack.defer('stop the glusterd we started (only if it has no volumes)', () =>
      run('bash', [path.join(REPO, 'test/support/stop-test-glusterd.sh')], { timeoutMs: 60_000 }));
  } else log(`glusterd already running (pid ${g.pid}): using it`);
}

function pidAlive(pid: number): boolean {
  return fs.existsSync(`/proc/${pid}`);
}

export async function gluster(args: string[], timeoutMs = 150_000) {
  return run('gluster', ['--mode=script', ...args], { timeoutMs });
}

/** Geo-rep sessions (master, slave volume) of this glusterd whose volumes match `pred`. */
export async function geoRepSessions(pred: (vol: string) => boolean): Promise<{ master: string; slave: string }[]> {
  // Table lines: NODE MASTERVOL BRICK USER HOST::SLAVEVOL ...
  const r = await gluster(['volume', 'geo-replication', 'status']);
  const out: { master: string; slave: string }[] = [];
  for (const line of r.stdout.split('\n')) {
    const t = line.trim().split(/\s+/);
    const slaveTok = t.find((w) => w.includes('::'));
    const master = t[1];
    if (!slaveTok || !master) continue;
    const slave = slaveTok.split('::')[1]!.split(':')[0]!;
    if ((pred(master) || pred(slave)) && !out.some((o) => o.master === master && o.slave === slave)) out.push({ master, slave });
  }
  return out;
}

/** Stop and delete the geo-rep session master -> localhost::slave and its local leftovers. */
export async function deleteGeoRepSession(master: string, slave: string): Promise<void> {
  await gluster(['volume', 'geo-replication', master, `localhost::${slave}`, 'stop', 'force']);
  await gluster(['volume', 'geo-replication', master, `localhost::${slave}`, 'delete']);
  const session = `${master}_localhost_${slave}`;
  for (const p of [
    path.join(GEOREP_DIR, `${master}_${slave}_common_secret.pem.pub`),
    `/var/log/glusterfs/geo-replication/${session}`,
    `/var/log/glusterfs/geo-replication/${master}`,
    `/var/log/glusterfs/geo-replication-secondaries/${session}`,
    `/var/lib/misc/gluster/gsyncd/${session}`,
  ]) fs.rmSync(p, { recursive: true, force: true });
}

/** Unmount every FUSE mount of `volume` in this namespace (ours and those of peers we ran). */
export async function unmountVolumeEverywhere(volume: string): Promise<void> {
  for (const line of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [src, mnt, type] = line.split(' ');
    if (type?.startsWith('fuse.glusterfs') && src && mnt && new RegExp(`^[^:]+:/?${volume}$`).test(src)) {
      await unmount(mnt.replace(/\\([0-7]{3})/g, (_s, o: string) => String.fromCharCode(parseInt(o, 8)))).catch(() => undefined);
    }
  }
}

/** Remove what crashed bench runs (dead pid in the volume name) left behind. */
export async function reapStaleBenchRuns(): Promise<void> {
  const stale = (v: string) => {
    const m = VOLUME_RE.exec(v);
    return !!m && !pidAlive(Number(m[1]));
  };
  for (const s of await geoRepSessions(stale)) {
    log(`reaping geo-rep session ${s.master} -> ${s.slave} of a dead bench run`);
    await deleteGeoRepSession(s.master, s.slave);
  }
  const list = await gluster(['volume', 'list']);
  for (const v of list.stdout.split('\n').map((l) => l.trim()).filter(stale)) {
    log(`reaping volume ${v} of a dead bench run`);
    await unmountVolumeEverywhere(v);
    await gluster(['volume', 'stop', v, 'force']);
    await gluster(['volume', 'delete', v]);
  }
  if (fs.existsSync(BENCH_BASE)) {
    for (const e of fs.readdirSync(BENCH_BASE)) {
      const m = /^run\.(\d+)$/.exec(e);
      const dir = path.join(BENCH_BASE, e);
      if (m && !pidAlive(Number(m[1])) && !mountsBelow(dir).length) fs.rmSync(dir, { recursive: true, force: true });
    }
    if (fs.existsSync(BRICK_BASE)) {
      for (const e of fs.readdirSync(BRICK_BASE)) {
        const m = /^gsb(\d+)n/.exec(e);
        if (m && !pidAlive(Number(m[1]))) fs.rmSync(path.join(BRICK_BASE, e), { recursive: true, force: true });
      }
    }
  }
}

/** A tool's version line: stdout, or stderr for tools that print it there (`ssh -V`). */
function cmd(c: string, args: string[]): string {
  const r = spawnSync(c, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return (r.stdout || r.stderr || '').trim() || 'unavailable';
}

/** How the visibility checker reads the slave (BenchVolume.view): `brick` (default) or `mount`. */
export function visibleVia(): 'brick' | 'mount' {
  const v = process.env.BENCH_VISIBLE ?? 'brick';
  if (v !== 'brick' && v !== 'mount') throw new Error(`BENCH_VISIBLE must be brick or mount, not ${JSON.stringify(v)}`);
  return v;
}

export function machineInfo(): Record<string, string> {
  const model = cpus()[0]?.model ?? 'unknown';
  return {
    date: new Date().toISOString(),
    host: HOST,
    cpu: `${cpus().length} x ${model}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    kernel: cmd('uname', ['-r']),
    os: /PRETTY_NAME="([^"]+)"/.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown',
    loadavg: fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    node: process.version,
    gsyncd: `${JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version as string} @ ${cmd('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'])}${cmd('git', ['-C', REPO, 'status', '--porcelain', '--', 'src']) ? ' + uncommitted src changes' : ''}`,
    glusterfs: cmd('gluster', ['--version']).split('\n')[0] ?? '',
    rsync: cmd('rsync', ['--version']).split('\n')[0] ?? '',
    lsyncd: cmd('lsyncd', ['--version']).split('\n')[0] ?? '',
    openssh: cmd('ssh', ['-V']),
    strace: cmd('strace', ['-V']).split('\n')[0] ?? '',
    // A multi-brick volume (none made by the bench) would fall back to the mount.
    'visible on the slave, read from': visibleVia() === 'mount' ? 'a zero-cache FUSE mount (BENCH_VISIBLE=mount)' : 'the slave volume\'s brick directory',
  };
}

export { sleep };
