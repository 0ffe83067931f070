// What sshd is given, as text: the sshd_config the agent writes, the authorized_keys copy with
// the forced dispatcher command, and what is read back from `sshd -V` / `sshd -T`. Pure.
import { selfGsyncdArgv } from './dispatch.js';

/** A value for sshd_config: double-quoted when it has blanks or quotes. */
function sshdValue(v: string): string {
  return /^[^\s"'#]+$/.test(v) ? v : `"${v.replace(/(["\\])/g, '\\$1')}"`;
}

export interface SshdConfigInput {
  readonly port: number;
  readonly hostKeys: readonly string[];
  readonly pidFile: string;
  /** Absent: sshd's default (.ssh/authorized_keys in each home). */
  readonly authorizedKeysFile?: string;
  readonly usePam: boolean;
  readonly agentSocket: string;
  /** OpenSSH >= 9.8 penalises connections that never authenticate: exempt our own loopback checks. */
  readonly penaltyExempt?: boolean;
}

export function renderSshdConfig(c: SshdConfigInput): string {
  const lines = [
    '# Written by gsyncd slave-agent at every start; pass --sshd-config to use your own.',
    `Port ${c.port}`,
    ...c.hostKeys.map((k) => `HostKey ${sshdValue(k)}`),
    `PidFile ${sshdValue(c.pidFile)}`,
    ...(c.authorizedKeysFile ? [`AuthorizedKeysFile ${sshdValue(c.authorizedKeysFile)}`] : []),
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    // sshd without PAM refuses a locked account ('!' in /etc/shadow); PAM only then
    `UsePAM ${c.usePam ? 'yes' : 'no'}`,
    'PermitUserEnvironment no',
    'PermitTTY no',
    'AllowTcpForwarding no',
    'AllowAgentForwarding no',
    'AllowStreamLocalForwarding no',
    'X11Forwarding no',
    'PermitTunnel no',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'ClientAliveInterval 30',
    'ClientAliveCountMax 4',
    // where `gsyncd --slave` and the dispatcher send their session events
    `SetEnv ${sshdValue(`GSYNCD_AGENT_SOCKET=${c.agentSocket}`)}`,
    ...(c.penaltyExempt ? ['PerSourcePenaltyExemptList 127.0.0.1/32,::1/128'] : []),
    'LogLevel INFO',
  ];
  return lines.join('\n') + '\n';
}

/** A word for the shell sshd runs the forced command with. */
function shellWord(w: string): string {
  return /^[A-Za-z0-9_/.,:=@%+-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

/** `gsyncd --dispatch --root ROOT [--allow-volume VOL]... [--allow-tar]` as a shell command line. */
export function dispatchCommand(root: string, allowVolumes: readonly string[], self: readonly string[] = selfGsyncdArgv(), allowTar = false): string {
  return [...self, '--dispatch', '--root', root, ...allowVolumes.flatMap((v) => ['--allow-volume', v]), ...(allowTar ? ['--allow-tar'] : [])].map(shellWord).join(' ');
}

const KEY_TYPE = /^(?:ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+)$/;

/** Split the leading options field of an authorized_keys line (commas outside double quotes). */
function splitOptions(line: string): { options: string[]; rest: string } {
  const options: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && quoted && i + 1 < line.length) { cur += c + line[++i]; continue; }
    if (c === '"') { quoted = !quoted; cur += c; continue; }
    if (!quoted && c === ',') { options.push(cur); cur = ''; continue; }
    if (!quoted && (c === ' ' || c === '\t')) { options.push(cur); return { options, rest: line.slice(i + 1).trimStart() }; }
    cur += c;
  }
  options.push(cur);
  return { options, rest: '' };
}

/**
 * authorized_keys as sshd gets it: a plain key gets `command="<forced>",restrict`; a line with
 * options is kept only when it has its own command= (else it would allow a shell), and gets
 * `restrict` when it lacks it. Comments and blank lines are dropped.
 */
export function forcedAuthorizedKeys(text: string, forcedCommand: string): { text: string; keys: number; skipped: number } {
  const out: string[] = [];
  let skipped = 0;
  const forced = `command="${forcedCommand.replace(/(["\\])/g, '\\$1')}",restrict`;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const first = line.split(/\s+/)[0]!;
    if (KEY_TYPE.test(first)) { out.push(`${forced} ${line}`); continue; }
    const { options } = splitOptions(line);
    if (!options.some((o) => o.toLowerCase().startsWith('command='))) { skipped++; continue; }
    out.push(options.some((o) => o.toLowerCase() === 'restrict') ? line : `restrict,${line}`);
  }
  return { text: out.length ? out.join('\n') + '\n' : '', keys: out.length, skipped };
}

/** OpenSSH version in the output of `sshd -V` as [major, minor], or null. */
export function parseOpenSshVersion(output: string): [number, number] | null {
  const m = /OpenSSH_(\d+)\.(\d+)/.exec(output);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** PerSourcePenaltyExemptList exists from OpenSSH 9.8 on (older sshd refuses the option). */
export function supportsPenaltyExempt(version: readonly [number, number] | null): boolean {
  return version !== null && (version[0] > 9 || (version[0] === 9 && version[1] >= 8));
}

/** The port in `sshd -T` output (the effective configuration); 22 when it says none. */
export function portOfSshdT(text: string): number {
  return Number(/^port (\d+)$/m.exec(text)?.[1] ?? 22);
}
