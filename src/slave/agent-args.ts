// The `gsyncd slave-agent` command line: options, defaults and usage text. Pure (path.resolve
// against the cwd it is given).
import path from 'node:path';
import { gsyncdError } from '../core/errors.js';
import { defaultAgentSocket } from './agent-events.js';

export const SSHD_PATH = '/usr/sbin/sshd';
export const defaultAgentStateDir = '/run/gsyncd/agent';
export const defaultAgentHttpBind = '127.0.0.1:9754';

export const agentUsage = `usage: gsyncd slave-agent ROOT [options]

The slave container's main process: supervises \`sshd -D\`, aggregates the slave sessions'
events and serves the slave's metrics and health.

  --sshd-port N            port sshd listens on (default 22; with --sshd-config: its Port)
  --sshd-config FILE       use this sshd_config as it is (default: write one into the state dir)
  --authorized-keys FILE   keys allowed to log in; plain keys get the forced command
                           "gsyncd --dispatch --root ROOT [--allow-volume VOL]... [--allow-tar]",restrict
  --host-keys DIR          ssh_host_*_key files to use (copied with mode 0600); default: a
                           throwaway ed25519 key kept in the state dir
  --allow-volume VOL       GlusterFS volume a master may use as slave (repeatable; forced command)
  --allow-tar              let masters send data by tar --extract (--sync-method tar|auto; forced
                           command): GNU tar follows symlinks on the way, so only for trusted masters
  --http-bind ADDR         HOST:PORT of /metrics /livez /readyz /healthz /status
                           (default $GSYNCD_HTTP_BIND or ${defaultAgentHttpBind})
  --agent-socket PATH      UNIX socket for session events (default $GSYNCD_AGENT_SOCKET or ${defaultAgentSocket})
  --state-dir DIR          generated sshd files (default ${defaultAgentStateDir})
  --sshd-path PATH         sshd program (default ${SSHD_PATH})
  --check-interval SEC     sshd health check period (default 5)
  --log-level LEVEL        trace|debug|info|warn|error|fatal (default $GSYNCD_LOG_LEVEL or info)
`;

export interface AgentOptions {
  readonly root: string;
  readonly sshdPort: number;
  readonly sshdPortExplicit: boolean;
  readonly sshdConfig?: string;
  readonly authorizedKeys?: string;
  readonly hostKeys?: string;
  readonly allowVolumes: readonly string[];
  /** The forced command lets a confined tar --extract through (dispatch-tar.ts). */
  readonly allowTar: boolean;
  readonly httpBind: string;
  readonly httpBindExplicit: boolean;
  readonly agentSocket: string;
  readonly stateDir: string;
  readonly sshdPath: string;
  readonly checkIntervalMs: number;
  readonly logLevel: string;
}

const usage = (message: string) => gsyncdError('GSYNCD_ERR_USAGE', `slave-agent: ${message} (see gsyncd slave-agent --help)`);

/** The words after `slave-agent`; 'help' for --help. Throws GSYNCD_ERR_USAGE (exit 64). */
export function parseAgentArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}, cwd = process.cwd()): AgentOptions | 'help' {
  const positionals: string[] = [];
  const allowVolumes: string[] = [];
  let allowTar = false;
  const v: Record<string, string> = {};
  const valued = new Set(['--sshd-port', '--sshd-config', '--authorized-keys', '--host-keys', '--http-bind', '--agent-socket', '--state-dir', '--sshd-path', '--check-interval', '--log-level', '--allow-volume']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return 'help';
    if (a === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (!a.startsWith('-') || a === '-') { positionals.push(a); continue; }
    if (a === '--allow-tar') { allowTar = true; continue; }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (!valued.has(name)) throw usage(`unknown option ${JSON.stringify(name)}`);
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw usage(`${name} needs a value`);
    if (name === '--allow-volume') {
      if (!/^[A-Za-z0-9_.-]{1,128}$/.test(value)) throw usage(`bad volume name ${JSON.stringify(value)}`);
      allowVolumes.push(value);
    } else {
      v[name] = value;
    }
  }
  if (positionals.length !== 1) throw usage(positionals.length === 0 ? 'the slave ROOT directory is required' : 'takes exactly one ROOT');
  const port = (s: string, what: string) => {
    if (!/^\d{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535) throw usage(`${what}: expected a port 1-65535, got ${JSON.stringify(s)}`);
    return Number(s);
  };
  const bind = v['--http-bind'] ?? (env['GSYNCD_HTTP_BIND'] || undefined);
  if (bind !== undefined && !/^(?:\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):\d{1,5}$/.test(bind)) throw usage(`--http-bind: expected HOST:PORT or [IPV6]:PORT, got ${JSON.stringify(bind)}`);
  const interval = v['--check-interval'] ?? '5';
  if (!/^\d{1,4}(?:\.\d{1,3})?$/.test(interval) || Number(interval) < 0.1) throw usage(`--check-interval: expected seconds >= 0.1, got ${JSON.stringify(interval)}`);
  const level = (v['--log-level'] ?? (env['GSYNCD_LOG_LEVEL'] || 'info')).toLowerCase();
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) throw usage(`--log-level: unknown level ${JSON.stringify(level)}`);
  const abs = (p: string) => path.resolve(cwd, p);
  return {
    root: abs(positionals[0]!),
    sshdPort: v['--sshd-port'] === undefined ? 22 : port(v['--sshd-port'], '--sshd-port'),
    sshdPortExplicit: v['--sshd-port'] !== undefined,
    ...(v['--sshd-config'] !== undefined ? { sshdConfig: abs(v['--sshd-config']) } : {}),
    ...(v['--authorized-keys'] !== undefined ? { authorizedKeys: v['--authorized-keys'].includes('%') ? v['--authorized-keys'] : abs(v['--authorized-keys']) } : {}),
    ...(v['--host-keys'] !== undefined ? { hostKeys: abs(v['--host-keys']) } : {}),
    allowVolumes,
    allowTar,
    httpBind: bind ?? defaultAgentHttpBind,
    httpBindExplicit: bind !== undefined,
    agentSocket: abs(v['--agent-socket'] ?? (env['GSYNCD_AGENT_SOCKET'] || defaultAgentSocket)),
    stateDir: abs(v['--state-dir'] ?? defaultAgentStateDir),
    sshdPath: v['--sshd-path'] ?? SSHD_PATH,
    checkIntervalMs: Math.round(Number(interval) * 1000),
    logLevel: level,
  };
}