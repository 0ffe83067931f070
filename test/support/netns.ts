// Network-namespace "hosts" for integration tests.
//
//  - netnsHost(): a GlusterFS host (own glusterd, /var/lib/glusterd, /run, logs) made by
//    test/support/netns-host.sh, a verbatim copy of shared/gluster/netns-host.sh.
//  - twoHosts(): two plain namespaces (no glusterd) for tests that only need network separation:
//    A runs the master side, B the slave side behind its own sshd.
//
// Addressing: one /30 per host; test file "block" x (0..255, unique per test file, see
// docs/testing.md) owns 10.231.x.0/24 and host k of it is 10.231.x.(4k+2)/30, the root-namespace
// end of its veth being 10.231.x.(4k+1).
//
// Forwarding: host-to-host traffic is routed by the root namespace. We never touch the global
// net.ipv4.ip_forward (other runs may depend on its value, and restoring it would race with
// them). Instead we set net.ipv4.conf.vh-NAME.forwarding=1 on the root-namespace end of each veth
// we create: IPv4 forwards a packet when its *ingress* interface has forwarding on, so exactly the
// traffic coming out of our namespaces is routed, and the setting disappears with the link.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GlusterCluster } from './gluster.js';
import {
  cleanup as fileCleanup,
  type CleanupStack,
  fileLock,
  mustRun,
  run,
  type RunOptions,
  type RunResult,
  sleep,
  TEST_TMP_BASE,
} from './proc.js';
import { startSshd, type Sshd, type SshdOptions } from './sshd.js';

/** test/support/netns-host.sh */
export const NETNS_HOST_SCRIPT = fileURLToPath(new URL('./netns-host.sh', import.meta.url));
/** NSG_ROOT for netns-host.sh: state and bricks of the test hosts (not the script's /srv/nsg
 *  default, so test hosts never meet hand-made ones). */
export const NSG_ROOT = process.env['GSYNCD_TEST_NSG_ROOT'] ?? join(TEST_TMP_BASE, 'nsg');

export interface SubnetAddress {
  /** "10.231.x.(4k+2)/30" */
  cidr: string;
  /** The host's address inside its namespace. */
  ip: string;
  /** The root-namespace end of the veth. */
  rootSideIp: string;
}

/** Address of host k (0..63) of test block x (0..255). */
export function testSubnet(x: number, k = 0): SubnetAddress {
  if (!Number.isInteger(x) || x < 0 || x > 255) throw new Error(`test subnet block must be 0..255, got ${x}`);
  if (!Number.isInteger(k) || k < 0 || k > 63) throw new Error(`host index must be 0..63, got ${k}`);
  return { cidr: `10.231.${x}.${4 * k + 2}/30`, ip: `10.231.${x}.${4 * k + 2}`, rootSideIp: `10.231.${x}.${4 * k + 1}` };
}

function parseCidr(cidr: string): { ip: string; prefix: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
  if (!m) throw new Error(`IP/PREFIX expected, got '${cidr}'`);
  return { ip: m[1]!, prefix: Number(m[2]) };
}

const blockLocks = new Map<string, { users: number; release: Promise<() => Promise<void>> }>();

/**
 * Serialize test processes that would use the same namespace names and addresses (the same test
 * file run twice at once, e.g. by two people on one machine): one flock per 10.231.x block (or
 * per name outside it), shared by all hosts of the block in this process and released (on
 * `stack`, after their teardown) when the last of them is gone - or when the process dies.
 */
async function lockBlock(ipCidr: string, name: string, stack: CleanupStack): Promise<void> {
  const m = /^10\.231\.(\d+)\./.exec(ipCidr);
  const key = m ? `block-${m[1]}` : `name-${name}`;
  let entry = blockLocks.get(key);
  if (!entry) {
    const release = fileLock(`/run/lock/gsyncd-test-netns-${key}.lock`, {
      what: `test namespace ${key} (held by another test process)`,
    });
    entry = { users: 0, release };
    blockLocks.set(key, entry);
    release.catch(() => blockLocks.delete(key));
  }
  await entry.release;
  entry.users++;
  const e = entry;
  stack.defer(`unlock ${key}`, async () => {
    if (--e.users > 0) return;
    blockLocks.delete(key);
    await (await e.release)();
  });
}

/** Turn on forwarding for traffic entering the root namespace from our veth `vh-NAME`. */
async function enableForwarding(name: string): Promise<void> {
  await writeFile(`/proc/sys/net/ipv4/conf/vh-${name}/forwarding`, '1\n');
}

/** A network-namespace host as tests see it. */
export interface NamespaceHost {
  name: string;
  /** Address inside the namespace (what other hosts and root-namespace clients connect to). */
  ip: string;
  cidr: string;
  /** Run a command inside the host (no shell). */
  exec(cmd: string, args?: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** exec, throwing on non-zero exit. */
  mustExec(cmd: string, args?: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Command prefix that runs a command inside the host (for spawn/ssh `prefix`). */
  execPrefix: readonly string[];
  /** An sshd with throwaway keys listening on ip:22 inside the host (see sshd.ts). */
  startSshd(opts?: Omit<SshdOptions, 'netns' | 'execPrefix' | 'listenAddress'>): Promise<Sshd>;
  /** Tear down the host and everything running in it. Idempotent. */
  down(): Promise<void>;
}

/** A GlusterFS host made by netns-host.sh. */
export interface NetnsHost extends NamespaceHost {
  /** $NSG_ROOT/NAME: state; bricks go below `brickDir`. */
  dir: string;
  brickDir: string;
  /** gluster CLI of this host's glusterd (`--mode=script` added). */
  gluster(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** This host alone as a cluster for createVolume({cluster}). */
  cluster: GlusterCluster;
}

function script(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('bash', [NETNS_HOST_SCRIPT, ...args], { timeoutMs: 120_000, env: { ...process.env, NSG_ROOT }, ...opts });
}
async function mustScript(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return mustRun('bash', [NETNS_HOST_SCRIPT, ...args], { timeoutMs: 120_000, env: { ...process.env, NSG_ROOT }, ...opts });
}

/**
 * `netns-host.sh up NAME IP/PREFIX` (tearing down a leftover of the same name first, as the script
 * does), forwarding on its veth, and with `peerIp` (the IP of another netnsHost) joined into that
 * host's trusted pool. `down` is registered on `cleanup` (default: the file's stack).
 */
export async function netnsHost(
  name: string,
  ipCidr: string,
  peerIp?: string,
  opts: { cleanup?: CleanupStack } = {},
): Promise<NetnsHost> {
  const { ip } = parseCidr(ipCidr);
  const stack = opts.cleanup ?? fileCleanup;
  await lockBlock(ipCidr, name, stack);
  let isDown = false;
  const down = async () => {
    if (isDown) return;
    isDown = true;
    await mustScript(['down', name], { timeoutMs: 60_000 });
  };
  stack.defer(`netns-host.sh down ${name}`, down);
  // Up without the peer first: the pool probe needs forwarding on our veth, which exists only now.
  await mustScript(['up', name, ipCidr]);
  await enableForwarding(name);
  if (peerIp) await mustScript(['up', name, ipCidr, peerIp]);

  // self-contained (env NSG_ROOT; bash, so the exec bit does not matter): usable as any spawn prefix
  const execPrefix = ['env', `NSG_ROOT=${NSG_ROOT}`, 'bash', NETNS_HOST_SCRIPT, 'exec', name];
  const exec = (cmd: string, args: readonly string[] = [], o: RunOptions = {}) =>
    script(['exec', name, cmd, ...args], o);
  const gluster = (args: readonly string[], o: RunOptions = {}) =>
    exec('gluster', ['--mode=script', ...args], { timeoutMs: 150_000, ...o });
  const dir = join(NSG_ROOT, name);
  const brickDir = join(dir, 'bricks');
  return {
    name,
    ip,
    cidr: ipCidr,
    dir,
    brickDir,
    execPrefix,
    exec,
    async mustExec(cmd, args = [], o = {}) {
      return mustScript(['exec', name, cmd, ...args], o);
    },
    gluster,
    cluster: { gluster, volfileServer: ip, brickNodes: [{ host: ip, dir: brickDir }] },
    // sshd inside the host's mount namespace too, so a login's `gluster` talks to this host's
    // glusterd (as a `host::vol` slave reached over SSH needs).
    startSshd: (o = {}) => startSshd({ ...o, execPrefix, listenAddress: ip, cleanup: o.cleanup ?? stack }),
    down,
  };
}

/** The hosts as one trusted pool (they must have been joined with netnsHost's peerIp): volumes
 *  are created through the first host, bricks spread round-robin, clients mount from the first. */
export function glusterPool(hosts: readonly NetnsHost[]): GlusterCluster {
  const first = hosts[0];
  if (!first) throw new Error('glusterPool needs at least one host');
  return {
    gluster: first.gluster,
    volfileServer: first.ip,
    brickNodes: hosts.map((h) => ({ host: h.ip, dir: h.brickDir })),
  };
}

// ---------------------------------------------------------------------------------------------
// Plain namespaces (no glusterd)

async function netnsExists(name: string): Promise<boolean> {
  const r = await run('ip', ['netns', 'list']);
  return r.stdout.split('\n').some((l) => l.split(' ')[0] === name);
}

/** Kill every process in netns `name` by pid (TERM, then KILL), delete it and its veth. */
async function plainDown(name: string): Promise<void> {
  if (await netnsExists(name)) {
    const pids = async () =>
      (await run('ip', ['netns', 'pids', name])).stdout.split(/\s+/).filter(Boolean).map(Number);
    let left = await pids();
    for (const p of left) {
      try {
        process.kill(p, 'SIGTERM');
      } catch {
        // gone
      }
    }
    for (let i = 0; i < 100 && left.length; i++) {
      await sleep(50);
      left = await pids();
    }
    for (const p of left) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await run('ip', ['netns', 'del', name]);
  }
  await run('ip', ['link', 'del', `vh-${name}`]);
}

/** A plain network namespace NAME with veth vh-NAME (root side, first address of the subnet) <->
 *  eth0 (inside, `ipCidr`), default route via the root side, forwarding on vh-NAME. */
export async function plainNetns(name: string, ipCidr: string, opts: { cleanup?: CleanupStack } = {}): Promise<NamespaceHost> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,11}$/.test(name)) throw new Error(`bad namespace name '${name}' (1-12 chars)`);
  const { ip, prefix } = parseCidr(ipCidr);
  const o = ip.split('.').map(Number);
  const ipInt = ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  let hostInt = ((ipInt & mask) >>> 0) + 1;
  if (hostInt === ipInt) hostInt += 1;
  const rootSideIp = [24, 16, 8, 0].map((s) => (hostInt >>> s) & 255).join('.');

  const stack = opts.cleanup ?? fileCleanup;
  await lockBlock(ipCidr, name, stack);
  await plainDown(name); // leftover of a crashed run with the same name
  const inUse = (await mustRun('ip', ['-4', '-o', 'addr', 'show'])).stdout;
  for (const a of [ip, rootSideIp]) {
    if (new RegExp(`inet ${a.replaceAll('.', '\\.')}/`).test(inUse)) {
      throw new Error(`address ${a} is already configured in the root namespace (subnet of ${ipCidr} taken)`);
    }
  }
  let isDown = false;
  const down = async () => {
    if (isDown) return;
    isDown = true;
    await plainDown(name);
  };
  stack.defer(`delete netns ${name}`, down);
  const ipr = (...args: string[]) => mustRun('ip', args);
  await ipr('netns', 'add', name);
  await ipr('link', 'add', `vh-${name}`, 'type', 'veth', 'peer', 'name', `vn-${name}`, 'netns', name);
  await ipr('addr', 'add', `${rootSideIp}/${prefix}`, 'dev', `vh-${name}`);
  await ipr('link', 'set', `vh-${name}`, 'up');
  await ipr('-n', name, 'link', 'set', 'lo', 'up');
  await ipr('-n', name, 'link', 'set', `vn-${name}`, 'name', 'eth0');
  await ipr('-n', name, 'addr', 'add', ipCidr, 'dev', 'eth0');
  await ipr('-n', name, 'link', 'set', 'eth0', 'up');
  await ipr('-n', name, 'route', 'add', 'default', 'via', rootSideIp);
  await enableForwarding(name);

  const execPrefix = ['ip', 'netns', 'exec', name];
  return {
    name,
    ip,
    cidr: ipCidr,
    execPrefix,
    exec: (cmd, args = [], ro = {}) => run('ip', ['netns', 'exec', name, cmd, ...args], ro),
    mustExec: (cmd, args = [], ro = {}) => mustRun('ip', ['netns', 'exec', name, cmd, ...args], ro),
    startSshd: (so = {}) => startSshd({ ...so, netns: name, listenAddress: ip, cleanup: so.cleanup ?? stack }),
    down,
  };
}

export interface TwoHosts {
  /** Master side. */
  a: NamespaceHost;
  /** Slave side; runs `sshd`. */
  b: NamespaceHost;
  /** sshd in B on b.ip:22 (throwaway keys). */
  sshd: Sshd;
  /** Stop sshd, delete both namespaces. Idempotent (also registered on the cleanup stack). */
  down(): Promise<void>;
}

/**
 * Two plain namespaces `gsA<x>` (10.231.x.2) and `gsB<x>` (10.231.x.6) that reach each other
 * through the root namespace, and an sshd in B. Tear-down is registered on `cleanup`.
 */
export async function twoHosts(x: number, opts: { cleanup?: CleanupStack } = {}): Promise<TwoHosts> {
  const stack = opts.cleanup ?? fileCleanup;
  const a = await plainNetns(`gsA${x}`, testSubnet(x, 0).cidr, { cleanup: stack });
  const b = await plainNetns(`gsB${x}`, testSubnet(x, 1).cidr, { cleanup: stack });
  const sshd = await b.startSshd({ cleanup: stack, clientExecPrefix: a.execPrefix }).catch((e: unknown) => {
    throw new Error(
      `ssh from ${a.name} (${a.ip}) to ${b.name} (${b.ip}) failed; if a firewall (e.g. Docker's iptables FORWARD ` +
        `policy DROP) drops routed traffic, allow 10.231.0.0/16: ${(e as Error).message}`,
      { cause: e },
    );
  });
  return {
    a,
    b,
    sshd,
    async down() {
      await sshd.stop();
      await b.down();
      await a.down();
    },
  };
}
