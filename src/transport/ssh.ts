// One authenticated ssh2 connection per session. It carries the slave's RPC exec channel and,
// through the rsh bridge, every rsync the session runs: one TCP connection, one host-key decision.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { gsyncdError } from '../core/errors.js';
import { hostPattern, knownHostsLine, knownKeyTypes, verifyHostKey, type HostKeyVerdict } from './known-hosts.js';

export interface SshOptions {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  /** Private key file; empty = try the agent and the usual ~/.ssh keys. */
  readonly identityFile?: string;
  /** known_hosts file that must vouch for the host key (default ~/.ssh/known_hosts). */
  readonly knownHostsFile?: string;
  /** Explicit opt-in: accept an UNKNOWN (never a changed) host key and append it to the file. */
  readonly acceptNewHostKey?: boolean;
  readonly readyTimeoutMs: number;
  /** ssh-level keep-alive; 0 disables. */
  readonly keepaliveIntervalMs: number;
}

export interface SshLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Key type name at the start of an SSH public key blob (u32 length + name). */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString('latin1');
}

function defaultIdentities(): string[] {
  const dir = path.join(os.homedir(), '.ssh');
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => path.join(dir, n)).filter((f) => fs.existsSync(f));
}

export class SshConnection {
  private closed = false;
  private readonly closeWaiters: ((why: string) => void)[] = [];

  private constructor(private readonly client: Client, readonly description: string) {
    client.on('close', () => this.markClosed('connection closed'));
    client.on('error', (err) => this.markClosed(err.message));
  }

  static async connect(opts: SshOptions, log: SshLog): Promise<SshConnection> {
    const names = opts.port === 22 ? [opts.host] : [hostPattern(opts.host, opts.port)];
    const knownFile = opts.knownHostsFile || path.join(os.homedir(), '.ssh', 'known_hosts');
    const knownText = fs.existsSync(knownFile) ? fs.readFileSync(knownFile, 'utf8') : '';
    const types = knownKeyTypes(knownText, names);
    let verdict: HostKeyVerdict | null = null;
    const identity = opts.identityFile || defaultIdentities()[0];
    const cfg: ConnectConfig = {
      host: opts.host, port: opts.port, username: opts.username,
      readyTimeout: opts.readyTimeoutMs,
      keepaliveInterval: opts.keepaliveIntervalMs,
      keepaliveCountMax: 3,
      ...(identity ? { privateKey: fs.readFileSync(identity) } : {}),
      ...(process.env.SSH_AUTH_SOCK ? { agent: process.env.SSH_AUTH_SOCK } : {}),
      // Offer only the key types known_hosts lists, so the server presents one we can check.
      ...(types.length ? { algorithms: { serverHostKey: types as never } } : {}),
      hostVerifier: (key: Buffer) => {
        verdict = verifyHostKey(knownText, names, key);
        if (!verdict.ok && verdict.reason === 'unknown' && opts.acceptNewHostKey) {
          fs.mkdirSync(path.dirname(knownFile), { recursive: true, mode: 0o700 });
          fs.appendFileSync(knownFile, knownHostsLine(names, keyTypeOfBlob(key), key) + '\n', { mode: 0o600 });
          log.warn({ host: names[0], file: knownFile }, 'accepted a new host key (--ssh-accept-new-host-key) and recorded it');
          verdict = { ok: true };
        }
        return verdict.ok;
      },
    };
    const client = new Client();
    const description = `${opts.username}@${opts.host}:${opts.port}`;
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', (err: Error & { level?: string }) => {
        const v = verdict as HostKeyVerdict | null;
        if (v && !v.ok) reject(gsyncdError('GSYNCD_ERR_HOST_KEY', v.message, err));
        else if (err.level === 'client-authentication') reject(gsyncdError('GSYNCD_ERR_SLAVE_UNAVAILABLE', `authentication to ${description} failed (key ${identity ?? 'none'}${process.env.SSH_AUTH_SOCK ? ' or agent' : ''})`, err));
        else reject(gsyncdError('GSYNCD_ERR_SLAVE_UNAVAILABLE', `cannot connect to ${description}: ${err.message}`, err));
      });
      client.connect(cfg);
    });
    log.info({ slave: description }, 'ssh connected');
    return new SshConnection(client, description);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Run a command on the slave host; the channel is its stdio (stderr on channel.stderr). */
  exec(command: string): Promise<ClientChannel> {
    if (this.closed) return Promise.reject(gsyncdError('GSYNCD_ERR_SLAVE_UNAVAILABLE', `ssh connection to ${this.description} is closed`));
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, channel) => {
        if (err) reject(gsyncdError('GSYNCD_ERR_SLAVE_UNAVAILABLE', `exec on ${this.description} failed: ${err.message}`, err));
        else resolve(channel);
      });
    });
  }

  onClose(fn: (why: string) => void): void {
    if (this.closed) fn('connection closed');
    else this.closeWaiters.push(fn);
  }

  close(): void {
    this.client.end();
  }

  private markClosed(why: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const fn of this.closeWaiters.splice(0)) fn(why);
  }
}
