// Everything written into the state dir before sshd starts: host keys (mode 0600: Kubernetes
// Secret files are symlinks with modes sshd refuses) or a throwaway key, the authorized_keys copy
// (re-copied when its source changes), the sshd_config — unless --sshd-config names one to use
// as it is.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describeError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import type { AgentOptions } from './agent-args.js';
import { dispatchCommand, forcedAuthorizedKeys, parseOpenSshVersion, portOfSshdT, renderSshdConfig, supportsPenaltyExempt } from './agent-sshd-config.js';

const execFileP = promisify(execFile);

/** Root's password field starts with '!': sshd without PAM refuses a locked account. */
function rootAccountLocked(): boolean {
  try {
    const line = fs.readFileSync('/etc/shadow', 'utf8').split('\n').find((l) => l.startsWith('root:'));
    return !!line && line.split(':')[1]!.startsWith('!');
  } catch {
    return false;
  }
}

/** OpenSSH version of `sshd` as [major, minor], or null. */
async function sshdVersion(sshdPath: string): Promise<[number, number] | null> {
  const out = await execFileP(sshdPath, ['-V'], { timeout: 10_000 }).then((r) => r.stdout + r.stderr, (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`);
  return parseOpenSshVersion(out);
}

/** Write a file atomically with `mode` (temp file + rename), whatever the umask. */
function writeFileMode(file: string, data: string | Buffer, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

const HOST_KEY_NAME = /^ssh_host_[a-z0-9]+_key$/;

/**
 * Host keys for sshd: every ssh_host_*_key of `dir` copied into <stateDir>/host_keys with mode
 * 0600 (readFile follows the symlinks of a Secret volume), checked with ssh-keygen -y; none: the
 * throwaway key in <stateDir>/throwaway, made once.
 */
export async function prepareHostKeys(dir: string | undefined, stateDir: string, log: Logger): Promise<string[]> {
  const dest = path.join(stateDir, 'host_keys');
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(dest, { recursive: true, mode: 0o700 });
  fs.chmodSync(dest, 0o700);
  const keys: string[] = [];
  if (dir !== undefined) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir).filter((n) => HOST_KEY_NAME.test(n)).sort();
    } catch (err) {
      log.warn({ event: 'sshd.host_keys', dir, err }, `cannot read the host key directory: ${describeError(err)}`);
    }
    for (const name of names) {
      const src = path.join(dir, name);
      const file = path.join(dest, name);
      try {
        if (!fs.statSync(src).isFile()) continue;
        writeFileMode(file, fs.readFileSync(src), 0o600);
        const pub = (await execFileP('ssh-keygen', ['-y', '-f', file], { timeout: 10_000 })).stdout.trim();
        writeFileMode(`${file}.pub`, `${pub}\n`, 0o644);
        log.info({ event: 'sshd.host_key', file: src, publicKey: pub.split(' ').slice(0, 2).join(' ') }, 'host key');
        keys.push(file);
      } catch (err) {
        fs.rmSync(file, { force: true });
        log.error({ event: 'sshd.host_key', file: src }, `unusable host key, skipped: ${describeError(err).split('\n')[0]}`);
      }
    }
  }
  if (keys.length > 0) return keys;
  const throwaway = path.join(stateDir, 'throwaway', 'ssh_host_ed25519_key');
  if (!fs.existsSync(throwaway)) {
    fs.mkdirSync(path.dirname(throwaway), { recursive: true, mode: 0o700 });
    await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'gsyncd-slave-throwaway', '-f', throwaway], { timeout: 30_000 });
  }
  fs.chmodSync(throwaway, 0o600);
  const pub = (await execFileP('ssh-keygen', ['-y', '-f', throwaway], { timeout: 10_000 })).stdout.trim();
  log.warn({ event: 'sshd.host_key', file: throwaway, publicKey: pub.split(' ').slice(0, 2).join(' ') },
    `no host key${dir === undefined ? ' configured (--host-keys)' : ` in ${dir}`}: using a throwaway ed25519 key; masters that check known_hosts will refuse it until they trust it`);
  return [throwaway];
}

export interface PreparedSshd {
  readonly configFile: string;
  readonly port: number;
  /** Re-copy authorized_keys when its source changed (a Secret update); no-op without one. */
  readonly refreshKeys: () => void;
}

/** The sshd_config to run (ours in the state dir, or --sshd-config as it is) and its port. */
export async function prepareSshd(o: AgentOptions, log: Logger): Promise<PreparedSshd> {
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation directory
  fs.mkdirSync(o.stateDir, { recursive: true, mode: 0o755 });
  if (o.sshdConfig !== undefined) {
    let port = o.sshdPort;
    if (!o.sshdPortExplicit) {
      const t = await execFileP(o.sshdPath, ['-T', '-f', o.sshdConfig], { timeout: 15_000 }).then((r) => r.stdout, () => '');
      port = portOfSshdT(t);
    }
    return { configFile: o.sshdConfig, port, refreshKeys: () => {} };
  }
  const hostKeys = await prepareHostKeys(o.hostKeys, o.stateDir, log);
  let refreshKeys = () => {};
  let authorizedKeysFile: string | undefined;
  if (o.authorizedKeys !== undefined && o.authorizedKeys.includes('%')) {
    authorizedKeysFile = o.authorizedKeys; // a per-user pattern: used as it is
  } else if (o.authorizedKeys !== undefined) {
    const src = o.authorizedKeys;
    const dest = path.join(o.stateDir, 'authorized_keys');
    const forced = dispatchCommand(o.root, o.allowVolumes, undefined, o.allowTar);
    let last: string | null = null;
    refreshKeys = () => {
      let text: string;
      try {
        text = fs.readFileSync(src, 'utf8');
      } catch (err) {
        if (last !== '') log.error({ event: 'sshd.authorized_keys', file: src }, `cannot read authorized keys: ${describeError(err)}`);
        text = '';
      }
      if (text === last) return;
      const first = last === null;
      last = text;
      const out = forcedAuthorizedKeys(text, forced);
      writeFileMode(dest, out.text, 0o644);
      if (out.skipped) log.warn({ event: 'sshd.authorized_keys', file: src, skipped: out.skipped }, 'authorized_keys: skipped lines with options but no command="..." (they would allow a shell)');
      log.info({ event: 'sshd.authorized_keys', file: src, keys: out.keys, forcedCommand: forced }, first ? 'authorized keys' : 'authorized keys changed');
    };
    refreshKeys();
    authorizedKeysFile = dest;
  }
  const version = await sshdVersion(o.sshdPath);
  const configFile = path.join(o.stateDir, 'sshd_config');
  writeFileMode(configFile, renderSshdConfig({
    port: o.sshdPort, hostKeys, pidFile: path.join(o.stateDir, 'sshd.pid'),
    ...(authorizedKeysFile !== undefined ? { authorizedKeysFile } : {}),
    usePam: rootAccountLocked(), agentSocket: o.agentSocket,
    penaltyExempt: supportsPenaltyExempt(version),
  }), 0o644);
  return { configFile, port: o.sshdPort, refreshKeys };
}