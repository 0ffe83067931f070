// The forced-command dispatcher for the slave host's authorized_keys:
//
//   command="gsyncd --dispatch --root /data [--allow-volume VOL]",restrict ssh-ed25519 AAAA…
//
// sshd runs it for every command the master's key asks for, with the request in
// SSH_ORIGINAL_COMMAND. Like the original's C wrapper (§3.2) the request is split on whitespace
// (no shell, no quoting) and only these are let through:
//   - `gsyncd --slave|--listen [safe options] ROOT` → our own slave mode, the root forced to the
//     configured one (or to `gluster://localhost:VOL` for an allowed volume);
//   - `rsync --server [allow-listed options] . TARGET` with TARGET inside the root (real path,
//     symlinks resolved) or inside the aux mount of an allowed volume;
//   - with --allow-tar, `tar --extract [allow-listed options] --directory=DIR` likewise confined
//     (dispatch-tar.ts), for a master's --sync-method tar.
// Everything else is refused with a reason. decideDispatch is the whole policy and does no I/O
// beyond reading (realpath, lstat, /proc/mounts) through a replaceable probe (dispatch-decide.ts,
// dispatch-rsync.ts, dispatch-tar.ts); runDispatch acts.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../log/logger.js';
import { unknownSession } from '../observe/labels.js';
import { classifyRsyncExit } from '../transport/rsync.js';
import { agentEmitter, connOf, defaultAgentSocket, refusalLabel, type AgentEmitter } from './agent-events.js';
import { decideDispatchWith } from './dispatch-decide.js';
import type { DispatchDecision, DispatchPolicy, DispatchProbe } from './dispatch-policy.js';
import { streamEnvOf } from './stream-policy.js';

export type { DispatchDecision, DispatchPolicy, DispatchProbe, DispatchRefusal } from './dispatch-policy.js';
export { allowedVolumeMounts } from './dispatch-rsync.js';

export const fsProbe: DispatchProbe = {
  realpath: (p) => { try { return fs.realpathSync.native(p); } catch { return null; } },
  isSymlink: (p) => { try { return fs.lstatSync(p).isSymbolicLink(); } catch { return false; } },
  mounts: () => { try { return fs.readFileSync('/proc/mounts', 'utf8'); } catch { return ''; } },
};

/** What to run for `originalCommand`, or why not; never throws. Reads the real file system unless given a probe. */
export function decideDispatch(originalCommand: string | undefined, policy: DispatchPolicy, probe: DispatchProbe = fsProbe): DispatchDecision {
  return decideDispatchWith(originalCommand, policy, probe);
}

// ─── running it ─────────────────────────────────────────────────────────────────────────────

export interface RunDispatchDeps {
  readonly log?: Logger;
  readonly stderr?: (text: string) => void;
  readonly probe?: DispatchProbe;
  /** Refusals and rsync results for the slave agent; default: $GSYNCD_AGENT_SOCKET (fire-and-forget). */
  readonly events?: AgentEmitter;
}

/**
 * Decide from env.SSH_ORIGINAL_COMMAND and run the result with inherited stdio; resolves to the
 * exit status to use (the child's; 128+signal when it was killed; 1 when refused).
 */
export async function runDispatch(env: Readonly<Record<string, string | undefined>>, policy: DispatchPolicy, deps: RunDispatchDeps = {}): Promise<number> {
  const stderr = deps.stderr ?? ((t: string) => { process.stderr.write(t); });
  const decision = decideDispatch(env['SSH_ORIGINAL_COMMAND'], policy, deps.probe);
  const client = env['SSH_CLIENT']?.split(' ')[0];
  const events = deps.events ?? agentEmitter(env['GSYNCD_AGENT_SOCKET'] ?? defaultAgentSocket);
  const conn = connOf(env);
  if (decision.kind === 'refuse') {
    deps.log?.warn({ reason: decision.reason, client }, `refused: ${decision.message}`);
    stderr(`gsyncd: refused: ${decision.message}\n`);
    events.emit({ type: 'refusal', session: unknownSession, reason: refusalLabel(decision.reason), ...(conn ? { conn } : {}) });
    await events.flush(500);
    return 1;
  }
  deps.log?.info({ kind: decision.kind, client, argv: decision.argv }, 'dispatching');
  const childEnv: NodeJS.ProcessEnv = { ...env };
  delete childEnv['SSH_ORIGINAL_COMMAND'];
  // The slave's in-band streams follow this dispatcher's policy (which rsync, whether tar).
  if (decision.kind === 'slave') Object.assign(childEnv, streamEnvOf(policy));
  if (decision.kind === 'tar') {
    // Options only from the checked command line; English, escape-quoted messages for the master.
    delete childEnv['TAR_OPTIONS'];
    childEnv['LC_ALL'] = 'C';
  }
  const [cmd, ...args] = decision.argv;
  const child = spawn(cmd!, args, { stdio: 'inherit', env: childEnv, cwd: decision.kind === 'slave' ? '/' : undefined });
  const forward = (sig: NodeJS.Signals) => { child.kill(sig); };
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  for (const s of signals) process.on(s, forward);
  try {
    const status = await new Promise<number>((resolve) => {
      child.once('error', (err) => {
        deps.log?.error({ cmd }, `cannot run ${cmd}: ${err.message}`);
        stderr(`gsyncd: cannot run ${cmd}: ${err.message}\n`);
        resolve(1);
      });
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0)));
    });
    if (decision.kind === 'rsync') {
      events.emit({ type: 'rsync', session: unknownSession, result: classifyRsyncExit(status), ...(conn ? { conn } : {}) });
      await events.flush(500);
    }
    return status;
  } finally {
    for (const s of signals) process.off(s, forward);
  }
}

/** This program as a command vector (node, its flags such as --import tsx, the script). */
export function selfGsyncdArgv(): string[] {
  return [process.execPath, ...process.execArgv, process.argv[1] ?? 'gsyncd'];
}

/**
 * `gsyncd --dispatch --root DIR [--allow-volume VOL]... [--rsync-path P] [--allow-tar] [--tar-path P] [--program-name N]...`:
 * the words after --dispatch, parsed here so the CLI only has to hand them over.
 */
export function parseDispatchArgs(argv: readonly string[]): DispatchPolicy {
  let root: string | undefined;
  const allowVolumes: string[] = [];
  const programNames: string[] = [];
  let rsyncPath = 'rsync';
  let tarPath = 'tar';
  let allowTar = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const value = () => {
      const v = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || v === '') throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--dispatch': break;
      case '--root': root = value(); break;
      case '--allow-volume': allowVolumes.push(value()); break;
      case '--rsync-path': rsyncPath = value(); break;
      case '--allow-tar': allowTar = true; break;
      case '--tar-path': tarPath = value(); break;
      case '--program-name': programNames.push(value()); break;
      default: throw new Error(`unknown dispatcher option ${JSON.stringify(a)}`);
    }
  }
  if (root === undefined) throw new Error('--dispatch needs --root DIR');
  return { root: path.resolve(root), allowVolumes, gsyncdArgv: selfGsyncdArgv(), rsyncPath, programNames, allowTar, tarPath };
}
