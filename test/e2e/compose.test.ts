// End-to-end test of the compose pair (compose.yaml), driven through the Docker API (dockerode):
// build and start the stack, write files through the demo GlusterFS volume, wait until the slave
// has them, scrape both /metrics, stop the slave container (master status → degraded), start it
// again (→ caught up, in sync).
//
//   bash deploy/compose/e2e.sh          (sets up podman as a Docker stand-in where there is no
//                                       Docker, then runs this file)
//
// Needs a Docker API on /run/docker.sock (or DOCKER_HOST), `docker compose` v2, /dev/fuse, and
// root. Not part of `npm test`: the first run builds three images (about 4 min); a run with a
// warm build cache takes about 3 min. Env: GSYNCD_E2E_PROJECT (default e2e),
// GSYNCD_E2E_KEEP=1 (leave the stack up afterwards, for a look around).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const project = process.env['GSYNCD_E2E_PROJECT'] || 'e2e';
const keep = process.env['GSYNCD_E2E_KEEP'] === '1';
const docker = new Docker();
const DEMO_MOUNT = '/mnt/e2e-demo';

interface Run { code: number; stdout: string; stderr: string }

function log(msg: string): void {
  process.stderr.write(`[e2e ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

let ports = { master: 0, slave: 0 };

/** `docker compose -p PROJECT ARGS…` in the repository, output collected (and echoed when verbose). */
async function compose(args: string[], timeoutMs: number): Promise<Run> {
  const env = {
    ...process.env,
    DOCKER_BUILDKIT: '0',
    BUILDAH_FORMAT: 'docker',
    GSYNCD_MASTER_METRICS_PORT: String(ports.master),
    GSYNCD_SLAVE_METRICS_PORT: String(ports.slave),
  };
  const child = spawn('docker', ['compose', '-f', 'compose.yaml', '-p', project, ...args], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code: code ?? 128, stdout, stderr };
}

async function containerOf(service: string): Promise<Docker.Container> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`] },
  });
  assert.ok(list[0], `no container for service ${service} in project ${project}`);
  return docker.getContainer(list[0].Id);
}

/** Run a command in a container (no TTY: with one, podman echoes the request into the output). */
async function exec(service: string, cmd: string[]): Promise<Run> {
  const c = await containerOf(service);
  const e = await c.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, Tty: false });
  const stream = await e.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (b: Buffer) => { stdout += b.toString(); });
  err.on('data', (b: Buffer) => { stderr += b.toString(); });
  docker.modem.demuxStream(stream, out, err);
  await once(stream, 'end');
  let info = await e.inspect();
  for (let i = 0; i < 50 && info.Running; i++) {
    await sleep(100);
    info = await e.inspect();
  }
  return { code: info.ExitCode ?? -1, stdout, stderr };
}

async function sh(service: string, script: string): Promise<string> {
  const r = await exec(service, ['sh', '-ec', script]);
  assert.equal(r.code, 0, `${service}: sh -ec ${JSON.stringify(script)} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(1000);
  }
}

async function health(service: string): Promise<string> {
  const info = await (await containerOf(service)).inspect();
  return (info.State as { Health?: { Status?: string } }).Health?.Status ?? info.State.Status;
}

async function http(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

interface StatusDoc { verdict: string; reasons: { code: string }[] }
async function masterStatus(): Promise<StatusDoc> {
  const r = await http(ports.master, '/status');
  return JSON.parse(r.body) as StatusDoc;
}

/** One line per file under DIR: "<sha256>  <relative path>", sorted; directories and symlinks too. */
const TREE_SCRIPT = (dir: string) => `cd '${dir}' && find . -path ./.glusterfs -prune -o -path ./.trashcan -prune -o \\( -type f -o -type l -o -type d \\) -print | LC_ALL=C sort | while read -r p; do
  if [ -L "$p" ]; then echo "link $(readlink "$p") $p"; elif [ -d "$p" ]; then echo "dir $p"; else echo "$(sha256sum < "$p" | cut -d' ' -f1) $p"; fi
done`;

async function slaveTree(): Promise<string> {
  return sh('slave', TREE_SCRIPT('/data'));
}
async function masterTree(): Promise<string> {
  return sh('master', TREE_SCRIPT(DEMO_MOUNT));
}

let stackUp = false;

describe('compose pair (compose.yaml)', { timeout: 15 * 60_000 }, () => {
  before(async () => {
    await docker.ping().catch((err: Error) => {
      throw new Error(`no Docker API (${err.message}): run deploy/setup-podman.sh (as root) or start Docker`);
    });
    ports = { master: await freePort(), slave: await freePort() };
    log(`project ${project}, metrics ports: master ${ports.master}, slave ${ports.slave}`);
    await compose(['down', '-v', '--remove-orphans'], 120_000);
  });

  after(async () => {
    if (!stackUp) return;
    const logs = await compose(['logs', '--no-color', '--tail', '40'], 60_000);
    if (process.exitCode || keep) log(`last log lines:\n${logs.stdout.slice(-12_000)}`);
    if (keep) {
      log(`GSYNCD_E2E_KEEP=1: leaving project ${project} up (docker compose -p ${project} down -v)`);
      return;
    }
    await compose(['down', '-v', '--remove-orphans'], 180_000);
  });

  it('builds the images and brings the stack up healthy (docker compose up -d --build --wait)', { timeout: 10 * 60_000 }, async () => {
    const t0 = Date.now();
    const r = await compose(['up', '-d', '--build', '--wait'], 9 * 60_000);
    stackUp = true;
    log(`compose up exited ${r.code} after ${Math.round((Date.now() - t0) / 1000)} s`);
    assert.equal(r.code, 0, `docker compose up failed:\n${r.stderr.slice(-4000)}`);
    for (const s of ['gluster', 'slave', 'master']) assert.equal(await health(s), 'healthy', `${s} is not healthy`);
    const keygen = await (await containerOf('keygen')).inspect();
    assert.equal(keygen.State.ExitCode, 0, 'keygen did not exit 0');
  });

  it('replicates files written through the demo volume to the slave', { timeout: 3 * 60_000 }, async () => {
    assert.ok(stackUp, 'stack not up');
    await sh('master', `mkdir -p ${DEMO_MOUNT}; mountpoint -q ${DEMO_MOUNT} || mount -t glusterfs -o attribute-timeout=0,entry-timeout=0 gluster:/demo ${DEMO_MOUNT}; mountpoint -q ${DEMO_MOUNT}`);
    await sh('master', `cd ${DEMO_MOUNT}
      mkdir -p e2e/sub/deeper
      echo hello > e2e/hello.txt
      head -c 1048576 /dev/urandom > e2e/sub/random.bin
      printf 'x%.0s' $(seq 1 1000) > e2e/sub/deeper/x.txt
      ln -sf hello.txt e2e/link
      echo before > e2e/renamed-from && mv e2e/renamed-from e2e/renamed-to`);
    const want = await masterTree();
    assert.match(want, /random\.bin/);
    const t0 = Date.now();
    await waitFor('the slave to match the master', 120_000, async () => ((await slaveTree()) === want ? true : undefined));
    log(`slave matched the master ${Math.round((Date.now() - t0) / 1000)} s after the writes`);
  });

  it('serves metrics on both published ports', { timeout: 60_000 }, async (t) => {
    assert.ok(stackUp, 'stack not up');
    // The slave can match the master a pass before the initial sync counts as complete (a name
    // that vanished during the first pass leaves its directory for the next one): wait for it.
    const m = await waitFor('the initial sync to complete', 60_000, async () => {
      const r = await http(ports.master, '/metrics');
      return /^gsyncd_initial_sync_completed\{[^}]*\} 1$/m.test(r.body) ? r : undefined;
    }).catch(() => http(ports.master, '/metrics'));
    assert.equal(m.status, 200);
    assert.match(m.body, /^gsyncd_build_info\{[^}]*role="master"[^}]*\} 1$/m);
    assert.match(m.body, /^gsyncd_slave_connected\{[^}]*\} 1$/m);
    assert.match(m.body, /^gsyncd_initial_sync_completed\{[^}]*\} 1$/m);
    assert.match(m.body, /^gsyncd_worker_state\{[^}]*state="active"[^}]*\} 1$/m);
    assert.match(m.body, /^gsyncd_sync_lag_seconds\{[^}]*\} [0-9.e+-]+$/m);
    const ok = /^gsyncd_rsync_runs_total\{[^}]*result="ok"[^}]*\} (\d+)/m.exec(m.body);
    assert.ok(ok && Number(ok[1]) > 0, 'no successful rsync run counted');

    const sshdOnly = await exec('slave', ['test', '-e', '/run/gsyncd/sshd-only']);
    if (sshdOnly.code === 0) {
      t.todo('the slave image runs sshd without the slave agent (this gsyncd has no slave-agent command): no slave /metrics yet');
      return;
    }
    const s = await http(ports.slave, '/metrics');
    assert.equal(s.status, 200);
    assert.match(s.body, /^gsyncd_build_info\{[^}]*role="slave"[^}]*\} 1$/m);
    assert.match(s.body, /^gsyncd_slave_sshd_up 1$/m);
    assert.match(s.body, /^gsyncd_slave_root_writable 1$/m);
  });

  it('reports degraded while the slave container is stopped, and catches up after it starts', { timeout: 6 * 60_000 }, async () => {
    assert.ok(stackUp, 'stack not up');
    await waitFor('master verdict in-sync before the stop', 60_000, async () => ((await masterStatus()).verdict === 'in-sync' ? true : undefined));
    const slave = await containerOf('slave');
    await slave.stop({ t: 40 });
    const stoppedAt = Date.now();
    log('slave stopped');
    await sh('master', `cd ${DEMO_MOUNT} && echo 'written while the slave was down' > e2e/while-down.txt && rm e2e/sub/deeper/x.txt`);
    const degraded = await waitFor('master verdict degraded', 180_000, async () => {
      const s = await masterStatus();
      return s.verdict === 'degraded' ? s : undefined;
    });
    log(`degraded ${Math.round((Date.now() - stoppedAt) / 1000)} s after the stop: ${degraded.reasons.map((r) => r.code).join(', ')}`);
    const m = await http(ports.master, '/metrics');
    assert.match(m.body, /^gsyncd_slave_connected\{[^}]*\} 0$/m, 'gsyncd_slave_connected is not 0 while the slave is down');
    const live = await http(ports.master, '/livez');
    assert.equal(live.status, 200, '/livez must not fail because the slave is unreachable');

    await slave.start();
    const startedAt = Date.now();
    await waitFor('slave healthy again', 120_000, async () => ((await health('slave')) === 'healthy' ? true : undefined));
    const want = await masterTree();
    assert.match(want, /while-down\.txt/);
    assert.doesNotMatch(want, /deeper\/x\.txt/);
    await waitFor('the slave to catch up', 180_000, async () => ((await slaveTree()) === want ? true : undefined));
    await waitFor('master verdict in-sync after the restart', 120_000, async () => ((await masterStatus()).verdict === 'in-sync' ? true : undefined));
    log(`caught up and in-sync ${Math.round((Date.now() - startedAt) / 1000)} s after the slave started`);
    const m2 = await http(ports.master, '/metrics');
    assert.match(m2.body, /^gsyncd_slave_connected\{[^}]*\} 1$/m);
  });
});
