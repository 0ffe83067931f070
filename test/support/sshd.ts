// A real, throwaway OpenSSH sshd for integration tests: own host key, own client key pair, own
// authorized_keys, own config; never reads or changes the machine's /etc/ssh or /root/.ssh.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile, appendFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import {
  cleanup as fileCleanup,
  type CleanupStack,
  freePort,
  mustRun,
  pidAlive,
  run,
  type RunOptions,
  type RunResult,
  sleep,
  tmpDir,
  trackDaemon,
  waitFor,
} from './proc.js';

export const SSHD = '/usr/sbin/sshd';

export interface SshdOptions {
  /** Run sshd inside this network namespace (`ip netns exec NS`). */
  netns?: string;
  /** Run sshd under this command prefix instead (e.g. [netns-host.sh, 'exec', NAME]); wins over netns. */
  execPrefix?: readonly string[];
  /** Address sshd listens on and clients connect to. Default 127.0.0.1. */
  listenAddress?: string;
  /** Default: a free port on 127.0.0.1 in the root namespace, 22 inside a namespace. */
  port?: number;
  /** Extra sshd_config lines. */
  config?: readonly string[];
  /** Where stop() is registered; default the file's `cleanup`. */
  cleanup?: CleanupStack;
  /** Command prefix the readiness check (`ssh ... true`) runs under; default none (root ns). */
  clientExecPrefix?: readonly string[];
}

export interface Sshd {
  host: string;
  port: number;
  /** "ssh-ed25519 AAAA..." of the throwaway host key. */
  hostKeyPub: string;
  /** A known_hosts file with one line for this server ([host]:port, or host for port 22). */
  knownHostsFile: string;
  knownHostsLine: string;
  /** Private key of the throwaway client key pair (authorized for root). */
  clientKeyPath: string;
  /** "ssh-ed25519 AAAA... gsyncd-test-client" */
  clientKeyPub: string;
  authorizedKeysFile: string;
  /** Working directory (config, keys, pid file, sshd.log). */
  dir: string;
  /** sshd's stderr (-e): one line per connection, auth decisions, errors. */
  logFile: string;
  /** pid of the listening sshd. */
  pid: number;
  /** Replace authorized_keys with `line`, e.g. `command="gsyncd --slave /x",restrict ${clientKeyPub}`. */
  setAuthorizedKey(line: string): Promise<void>;
  /** Append one more authorized_keys line. */
  addAuthorizedKey(line: string): Promise<void>;
  /** ssh client arguments up to and including root@host (append the remote command). Uses only
   *  our key and known_hosts (-F /dev/null, BatchMode, StrictHostKeyChecking=yes). */
  sshArgs(overrides?: { knownHostsFile?: string; identity?: string; user?: string }): string[];
  /** Run `ssh <sshArgs> -- command...` (from the root namespace unless `prefix` is given). */
  ssh(command: readonly string[], opts?: RunOptions & { prefix?: readonly string[] }): Promise<RunResult>;
  /** Stop sshd and its session processes. Idempotent. */
  stop(): Promise<void>;
}

/** ssh-keygen -t ed25519 with no passphrase; returns the public key line. */
export async function sshKeygen(path: string, comment = 'gsyncd-test'): Promise<string> {
  await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  return (await readFile(`${path}.pub`, 'utf8')).trim();
}

/** "[host]:port" as known_hosts and ssh spell it (bare host for port 22). */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Root's password field starts with "!": sshd without PAM refuses a locked account. */
function rootAccountLocked(): boolean {
  try {
    const line = readFileSync('/etc/shadow', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('root:'));
    return !!line && line.split(':')[1]!.startsWith('!');
  } catch {
    return false;
  }
}

/** Children of `pid` (per-connection sshd processes), from /proc. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function killAndWait(pids: number[]): Promise<void> {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 5_000;
  while (pids.some(pidAlive) && Date.now() < deadline) await sleep(50);
  for (const p of pids.filter(pidAlive)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Start an sshd (foreground, -D -e) with throwaway keys and check that a login works. */
export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  const stack = opts.cleanup ?? fileCleanup;
  const prefix = opts.execPrefix ?? (opts.netns ? ['ip', 'netns', 'exec', opts.netns] : []);
  const inNamespace = prefix.length > 0;
  const host = opts.listenAddress ?? '127.0.0.1';
  const dir = await tmpDir('sshd', stack);
  await mkdir('/run/sshd', { recursive: true }); // privilege separation dir (no systemd to make it)

  const hostKey = join(dir, 'ssh_host_ed25519_key');
  const clientKeyPath = join(dir, 'client_ed25519');
  const authorizedKeysFile = join(dir, 'authorized_keys');
  const pidFile = join(dir, 'sshd.pid');
  const logFile = join(dir, 'sshd.log');
  const knownHostsFile = join(dir, 'known_hosts');
  const hostKeyPub = (await sshKeygen(hostKey, 'gsyncd-test-host')).split(' ').slice(0, 2).join(' ');
  const clientKeyPub = await sshKeygen(clientKeyPath, 'gsyncd-test-client');
  await writeFile(authorizedKeysFile, `${clientKeyPub}\n`, { mode: 0o600 });

  const attempt = async (port: number): Promise<{ pid: number; stop: () => Promise<void> } | 'port-in-use'> => {
    const config = [
      `Port ${port}`,
      `ListenAddress ${host}`,
      `HostKey ${hostKey}`,
      `PidFile ${pidFile}`,
      `AuthorizedKeysFile ${authorizedKeysFile}`,
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      // sshd without PAM refuses a locked root ("!" in /etc/shadow); only then fall back to PAM
      `UsePAM ${rootAccountLocked() ? 'yes' : 'no'}`,
      'PrintMotd no',
      'LogLevel VERBOSE',
      ...(opts.config ?? []),
    ];
    const configFile = join(dir, 'sshd_config');
    await writeFile(configFile, `${config.join('\n')}\n`);
    await mustRun(SSHD, ['-t', '-f', configFile]);
    await writeFile(pidFile, '');

    const argv = [...prefix, SSHD, '-D', '-e', '-f', configFile];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    trackDaemon(child);
    const log = createWriteStream(logFile, { flags: 'a' });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => {
      log.write(b);
      if (stderr.length < 20_000) stderr += b.toString();
    });
    let exited = false;
    child.once('exit', () => (exited = true));

    const stop = async () => {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      const pids = pid > 0 && pidAlive(pid) ? [...childrenOf(pid), pid] : [];
      if (child.exitCode === null && child.signalCode === null && child.pid) pids.push(child.pid);
      await killAndWait(pids);
      log.end();
    };
    try {
      await waitFor(
        () => {
          if (exited) throw new Error(`sshd exited: ${stderr.trim()}`);
          return /Server listening on/.test(stderr);
        },
        { what: `sshd to listen on ${host}:${port}`, timeoutMs: 15_000, intervalMs: 25 },
      );
    } catch (e) {
      await stop();
      if (/Address already in use/.test(stderr)) return 'port-in-use';
      throw new Error(`${(e as Error).message}\n${stderr}`, { cause: e });
    }
    const pid = await waitFor(() => Number(readFileSync(pidFile, 'utf8').trim()), {
      what: `sshd pid file ${pidFile}`,
      timeoutMs: 5_000,
      intervalMs: 25,
    });
    return { pid, stop };
  };

  let started: { pid: number; stop: () => Promise<void> } | undefined;
  let port = opts.port ?? 0;
  for (let i = 0; i < 5 && !started; i++) {
    if (!opts.port) port = inNamespace ? 22 + i * 1000 : await freePort(host);
    const r = await attempt(port);
    if (r === 'port-in-use') {
      if (opts.port) throw new Error(`sshd: port ${host}:${port} is in use`);
      continue;
    }
    started = r;
  }
  if (!started) throw new Error('sshd: no free port found after 5 attempts');
  const { pid } = started;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await started.stop();
  };
  stack.defer(`stop sshd pid ${pid} (${host}:${port})`, stop);

  const knownHostsLine = `${knownHostsName(host, port)} ${hostKeyPub}`;
  await writeFile(knownHostsFile, `${knownHostsLine}\n`);

  const sshArgs = (o: { knownHostsFile?: string; identity?: string; user?: string } = {}) => [
    '-F', '/dev/null',
    '-i', o.identity ?? clientKeyPath,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'IdentityAgent=none',
    '-o', `UserKnownHostsFile=${o.knownHostsFile ?? knownHostsFile}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'UpdateHostKeys=no',
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=10',
    '-o', 'LogLevel=ERROR',
    '-p', String(port),
    `${o.user ?? 'root'}@${host}`,
  ];
  const server: Sshd = {
    host,
    port,
    hostKeyPub,
    knownHostsFile,
    knownHostsLine,
    clientKeyPath,
    clientKeyPub,
    authorizedKeysFile,
    dir,
    logFile,
    pid,
    async setAuthorizedKey(line: string) {
      await writeFile(authorizedKeysFile, `${line.trim()}\n`, { mode: 0o600 });
    },
    async addAuthorizedKey(line: string) {
      await appendFile(authorizedKeysFile, `${line.trim()}\n`);
    },
    sshArgs,
    async ssh(command, o = {}) {
      const { prefix: p = [], ...runOpts } = o;
      const argv = [...p, 'ssh', ...sshArgs(), '--', ...command];
      return run(argv[0]!, argv.slice(1), { timeoutMs: 60_000, ...runOpts });
    },
    stop,
  };

  // The check the brief asks for: a real login with our key and strict host key checking.
  // A namespace's loopback is only reachable from inside it.
  const checkPrefix = opts.clientExecPrefix ?? (inNamespace && host.startsWith('127.') ? prefix : []);
  const check = await server.ssh(['true'], { prefix: checkPrefix, timeoutMs: 30_000 });
  if (check.code !== 0) {
    await stop();
    throw new Error(
      `sshd on ${host}:${port} started but \`ssh ... true\` failed (exit ${check.code}): ${check.stderr.trim()}\n` +
        `sshd log:\n${readFileSync(logFile, 'utf8')}`,
    );
  }
  return server;
}
