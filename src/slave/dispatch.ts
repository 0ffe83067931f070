// The forced-command dispatcher for the slave host's authorized_keys:
//
//   command="gsyncd --dispatch --root /data [--allow-volume VOL]",restrict ssh-ed25519 AAAA…
//
// sshd runs it for every command the master's key asks for, with the request in
// SSH_ORIGINAL_COMMAND. Like the original's C wrapper (§3.2) the request is split on whitespace
// (no shell, no quoting) and only two things are let through:
//   - `gsyncd --slave|--listen [safe options] ROOT` → our own slave mode, the root forced to the
//     configured one (or to `gluster://localhost:VOL` for an allowed volume);
//   - `rsync --server [allow-listed options] . TARGET` with TARGET inside the root (real path,
//     symlinks resolved) or inside the aux mount of an allowed volume.
// Everything else is refused with a reason. decideDispatch is the whole policy and does no I/O
// beyond reading (realpath, lstat, /proc/mounts) through a replaceable probe; runDispatch acts.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../log/logger.js';
import { unknownSession } from '../observe/labels.js';
import { findTunable } from '../options/tunables.js';
import { classifyRsyncExit } from '../transport/rsync.js';
import { parseUrl } from '../url/url.js';
import { agentEmitter, connOf, defaultAgentSocket, refusalLabel, type AgentEmitter } from './agent-events.js';

export type DispatchRefusal = 'forbidden_command' | 'path_escape' | 'absolute_path' | 'nul_byte' | 'bad_option';

export type DispatchDecision =
  | { readonly kind: 'slave'; readonly argv: string[] }
  | { readonly kind: 'rsync'; readonly argv: string[] }
  | { readonly kind: 'refuse'; readonly reason: DispatchRefusal; readonly message: string };

export interface DispatchPolicy {
  /** The only directory a master may write (slave root and rsync target). */
  readonly root: string;
  /** GlusterFS volumes on this host a master may use as slave (served through aux mounts). */
  readonly allowVolumes: readonly string[];
  /** How to run ourselves, e.g. [process.execPath, '/usr/lib/gsyncd/bin/gsyncd.js']. */
  readonly gsyncdArgv: readonly string[];
  /** The rsync program to run. */
  readonly rsyncPath: string;
  /** Extra basenames accepted for gsyncd (the master's --remote-gsyncd); 'gsyncd' and 'gsyncd.js' always are. */
  readonly programNames?: readonly string[];
  /** Directories holding aux mounts (gsyncd-aux-mount-*); default /tmp and the OS temp dir. */
  readonly auxMountParents?: readonly string[];
}

/** The file-system reads decideDispatch needs (replaceable in tests). */
export interface DispatchProbe {
  /** Real path, or null when it cannot be resolved (absent, dangling, no access). */
  realpath(p: string): string | null;
  /** True when `p` itself is a symbolic link (lstat). */
  isSymlink(p: string): boolean;
  /** The mount table, /proc/mounts format. */
  mounts(): string;
}

export const fsProbe: DispatchProbe = {
  realpath: (p) => { try { return fs.realpathSync.native(p); } catch { return null; } },
  isSymlink: (p) => { try { return fs.lstatSync(p).isSymbolicLink(); } catch { return false; } },
  mounts: () => { try { return fs.readFileSync('/proc/mounts', 'utf8'); } catch { return ''; } },
};

const refuse = (reason: DispatchRefusal, message: string): DispatchDecision => ({ kind: 'refuse', reason, message });

/** Longest single word accepted (guards against absurd input). */
const MAX_WORD = 4096;
const MAX_WORDS = 256;

export function decideDispatch(originalCommand: string | undefined, policy: DispatchPolicy, probe: DispatchProbe = fsProbe): DispatchDecision {
  try {
    return decide(originalCommand, policy, probe);
  } catch (err) {
    return refuse('forbidden_command', `cannot check the command: ${(err as Error).message}`);
  }
}

function decide(originalCommand: string | undefined, policy: DispatchPolicy, probe: DispatchProbe): DispatchDecision {
  if (originalCommand === undefined || originalCommand.trim() === '') return refuse('forbidden_command', 'interactive login is not allowed; only gsyncd --slave and rsync --server are');
  if (originalCommand.includes('\0')) return refuse('nul_byte', 'the command contains a NUL byte');
  const argv = originalCommand.split(/[ \t\r\n\v\f]+/).filter((w) => w !== '');
  if (argv.length > MAX_WORDS || argv.some((w) => w.length > MAX_WORD)) return refuse('bad_option', 'the command is too long');
  const program = path.posix.basename(argv[0]!);
  const gsyncdNames = new Set(['gsyncd', 'gsyncd.js', ...(policy.programNames ?? []).map((n) => path.posix.basename(n))]);
  if (gsyncdNames.has(program)) return decideSlave(argv.slice(1), policy);
  // `NODE …/bin/gsyncd.js --slave …` is the master's default --remote-gsyncd. Neither word is
  // ever run (the slave argv is ours): they only say which request this is.
  if (NODE_NAMES.has(program) && argv.length > 1 && gsyncdNames.has(path.posix.basename(argv[1]!))) return decideSlave(argv.slice(2), policy);
  if (program === 'rsync') return decideRsync(argv.slice(1), policy, probe);
  return refuse('forbidden_command', `${JSON.stringify(program.slice(0, 100))} is not allowed; only gsyncd --slave and rsync --server are`);
}

/** Interpreter names a master's default --remote-gsyncd starts with. */
const NODE_NAMES = new Set(['node', 'nodejs']);

// ─── gsyncd --slave ─────────────────────────────────────────────────────────────────────────

const SLAVE_FLAGS = new Set(['--slave', '--listen', '--secondary']);
/** Accepted for compatibility with the original master's command line, and dropped. */
const DROPPED_FLAGS = new Set(['-N', '--no-daemon']);
const SLAVE_VALUED: Readonly<Record<string, { rx: RegExp; tunable: string; norm?: (v: string) => string }>> = {
  '--timeout': { rx: /^\d{1,7}(?:\.\d{1,3})?$/, tunable: 'timeout' },
  '--sync-jobs': { rx: /^[1-9]\d{0,2}$/, tunable: 'sync-jobs' },
  '--log-level': { rx: /^(?:trace|debug|info|warn|error|fatal)$/i, tunable: 'log-level', norm: (v) => v.toLowerCase() },
  '--session-owner': { rx: /^[A-Za-z0-9_.:-]{1,128}$/, tunable: 'session-owner' },
};

function decideSlave(args: string[], policy: DispatchPolicy): DispatchDecision {
  let slave = false;
  const pass: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (SLAVE_FLAGS.has(a)) { slave = true; continue; }
    if (DROPPED_FLAGS.has(a)) continue;
    if (a.startsWith('-')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(0, eq) : a;
      const spec = SLAVE_VALUED[name];
      if (!spec) return refuse('bad_option', `gsyncd option ${JSON.stringify(name.slice(0, 100))} is not allowed here`);
      const value = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (value === undefined || !spec.rx.test(value)) return refuse('bad_option', `bad value for ${name}`);
      // A tunable this version does not implement yet would make the slave refuse to start: drop it.
      if (findTunable(spec.tunable)?.effective) pass.push(name, spec.norm ? spec.norm(value) : value);
      continue;
    }
    positionals.push(a);
  }
  if (!slave) return refuse('forbidden_command', 'only gsyncd in slave mode (--slave) is allowed');
  if (positionals.length > 1) return refuse('bad_option', 'gsyncd --slave takes one slave root');
  let root = path.resolve(policy.root);
  const requested = positionals[0];
  if (requested !== undefined) {
    let url;
    try { url = parseUrl(requested); } catch { url = undefined; }
    if (url?.kind === 'gluster') {
      if (!policy.allowVolumes.includes(url.volume)) return refuse('forbidden_command', `volume ${JSON.stringify(url.volume)} is not allowed on this host`);
      root = `gluster://localhost:${url.volume}`;
    }
    // Any other root (a path, or a URL naming another place) is replaced by the configured root.
  }
  return { kind: 'slave', argv: [...policy.gsyncdArgv, '--slave', ...pass, root] };
}

// ─── rsync --server ─────────────────────────────────────────────────────────────────────────

/**
 * Letters allowed in a single-dash cluster (what a receiving rsync server is sent for -a, -R,
 * -S, -z, -H, -A, -X, -c, …). Not allowed: s (protect-args: the real arguments would come over
 * the wire, unchecked), e outside its `e.<compat flags>` form, f/F (filter rules can read files),
 * T/B/M (take values), K (follow dir symlinks on the receiver), b (backups), L/k (sender side).
 */
const CLUSTER_LETTERS = new Set('logDtpRSrdvzxHAXcuniWOJUNmICyEq0h8P'.split(''));

const LONG_FLAGS = new Set([
  '--inplace', '--sparse', '--numeric-ids', '--no-implied-dirs', '--super', '--partial', '--relative', '--from0',
  '--stats', '--no-r', '--no-recursive', '--no-i-r', '--no-inc-recursive', '--append', '--append-verify', '--preallocate',
  '--size-only', '--ignore-times', '--ignore-existing', '--existing', '--safe-links', '--munge-links', '--omit-dir-times',
  '--omit-link-times', '--hard-links', '--acls', '--xattrs', '--fake-super', '--checksum', '--whole-file', '--no-whole-file',
  '--open-noatime', '--mkpath', '--ignore-errors', '--delay-updates', '--fsync', '--no-W', '--compress', '--old-compress',
  '--new-compress', '--ignore-missing-args',
]);

const LONG_VALUED: Readonly<Record<string, RegExp>> = {
  '--compress-level': /^\d{1,2}$/,
  '--compress-choice': /^[a-z0-9]{1,16}$/,
  '--zc': /^[a-z0-9]{1,16}$/,
  '--checksum-choice': /^[a-z0-9,]{1,32}$/,
  '--cc': /^[a-z0-9,]{1,32}$/,
  '--timeout': /^\d{1,7}$/,
  '--bwlimit': /^\d{1,10}[KMGkmg]?$/,
  '--modify-window': /^-?\d{1,6}$/,
  '--checksum-seed': /^\d{1,10}$/,
  '--max-size': /^[\d.]{1,16}[KMGTkmgt]?[Bb]?$/,
  '--min-size': /^[\d.]{1,16}[KMGTkmgt]?[Bb]?$/,
  '--info': /^[A-Za-z0-9,]{1,200}$/,
  '--debug': /^[A-Za-z0-9,]{1,200}$/,
  '--block-size': /^\d{1,10}$/,
};
/** Take a directory: checked to lie inside the allowed area (relative = below the target). */
const DIR_VALUED = new Set(['--temp-dir', '--partial-dir']);

interface AllowedArea {
  /** Lexical (as configured) and real forms of each allowed directory. */
  readonly lexical: string[];
  readonly real: string[];
}

function within(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

function decodeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Aux mounts of allowed volumes: fuse.glusterfs at <tmp>/gsyncd-aux-mount-*, source `host:VOL`. */
export function allowedVolumeMounts(mounts: string, policy: DispatchPolicy): string[] {
  if (policy.allowVolumes.length === 0) return [];
  const parents = new Set((policy.auxMountParents ?? ['/tmp', os.tmpdir()]).map((p) => path.resolve(p)));
  const out: string[] = [];
  for (const line of mounts.split('\n')) {
    const [source, mnt, type] = line.split(' ');
    if (!source || !mnt || type !== 'fuse.glusterfs') continue;
    const dir = decodeMountField(mnt);
    if (!parents.has(path.dirname(dir)) || !path.basename(dir).startsWith('gsyncd-aux-mount-')) continue;
    const vol = /:\/?([^:/]+)$/.exec(decodeMountField(source))?.[1];
    if (vol && policy.allowVolumes.includes(vol)) out.push(dir);
  }
  return out;
}

function allowedArea(policy: DispatchPolicy, probe: DispatchProbe): AllowedArea {
  const root = path.resolve(policy.root);
  const mounts = allowedVolumeMounts(probe.mounts(), policy);
  const lexical = [root, ...mounts];
  const real = lexical.map((d) => probe.realpath(d) ?? d);
  return { lexical, real };
}

/**
 * Check a destination path: lexically inside the area, and still inside once the longest existing
 * prefix is resolved with realpath (a symlink inside the root pointing out is caught). A dangling
 * symlink on the way is refused too: it could be made to point anywhere later.
 */
function checkDest(raw: string, base: string, area: AllowedArea, probe: DispatchProbe, what: string): { ok: true; resolved: string } | { ok: false; decision: DispatchDecision } {
  const fail = (reason: DispatchRefusal, message: string) => ({ ok: false as const, decision: refuse(reason, message) });
  if (raw.includes('\0')) return fail('nul_byte', `${what} contains a NUL byte`);
  if (raw === '') return fail('bad_option', `empty ${what}`);
  const resolved = path.resolve(base, raw);
  const hasDotDot = raw.split('/').includes('..');
  if (!area.lexical.some((d) => within(resolved, d))) {
    return fail(hasDotDot ? 'path_escape' : 'absolute_path', `${what} ${JSON.stringify(raw.slice(0, 200))} is outside the slave root`);
  }
  const rest: string[] = [];
  let cur = resolved;
  let real: string | null = null;
  for (;;) {
    real = probe.realpath(cur);
    if (real !== null) break;
    if (probe.isSymlink(cur)) return fail('path_escape', `${what} ${JSON.stringify(raw.slice(0, 200))} goes through a dangling symlink`);
    const parent = path.dirname(cur);
    if (parent === cur) break;
    rest.unshift(path.basename(cur));
    cur = parent;
  }
  const full = real === null ? resolved : path.join(real, ...rest);
  if (!area.real.some((d) => within(full, d))) {
    return fail('path_escape', `${what} ${JSON.stringify(raw.slice(0, 200))} leads outside the slave root (through a symlink)`);
  }
  return { ok: true, resolved: full };
}

/**
 * The receiver-side xattr filters a gsyncd master sends with --sync-xattrs (rsync's
 * --remote-option): without them the receiving rsync deletes every xattr the sender does not
 * list, gsyncd's own marks included. Accepted exactly, as rsync escapes them for a remote shell
 * and as written.
 */
const XATTR_FILTERS: Readonly<Record<string, string>> = {
  '--filter=-x_user.gsyncd.\\*': '--filter=-x_user.gsyncd.*',
  '--filter=-x_user.gsyncd.*': '--filter=-x_user.gsyncd.*',
  '--filter=-x\\!_user.\\*': '--filter=-x!_user.*',
  '--filter=-x!_user.*': '--filter=-x!_user.*',
};

function decideRsync(args: string[], policy: DispatchPolicy, probe: DispatchProbe): DispatchDecision {
  if (args[0] !== '--server') return refuse('forbidden_command', 'only rsync --server is allowed');
  if (args.includes('--sender')) return refuse('forbidden_command', 'rsync --sender (reading from the slave) is not allowed');
  const dot = args.indexOf('.', 1);
  if (dot < 0) return refuse('bad_option', 'rsync --server needs ". TARGET" (protect-args and sender mode are not allowed)');
  const options = args.slice(1, dot);
  const operands = args.slice(dot + 1);
  if (operands.length !== 1) return refuse('bad_option', 'rsync --server takes exactly one target');
  const area = allowedArea(policy, probe);
  const target = checkDest(operands[0]!, path.resolve(policy.root), area, probe, 'rsync target');
  if (!target.ok) return target.decision;
  const out: string[] = [];
  for (let i = 0; i < options.length; i++) {
    const a = options[i]!;
    const filter = XATTR_FILTERS[a];
    if (filter) { out.push(filter); continue; }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(0, eq) : a;
      if (LONG_FLAGS.has(name) && eq < 0) { out.push(a); continue; }
      if (DIR_VALUED.has(name)) {
        const value = eq > 0 ? a.slice(eq + 1) : options[++i];
        if (value === undefined) return refuse('bad_option', `${name} needs a value`);
        if (value.startsWith('-')) return refuse('bad_option', `bad value for ${name}`);
        // rsync takes a relative one below each file's directory: no '..' at all.
        if (value.split('/').includes('..')) return refuse('path_escape', `${name} must not contain '..'`);
        const dir = checkDest(value, target.resolved, area, probe, name);
        if (!dir.ok) return dir.decision;
        out.push(`${name}=${value}`);
        continue;
      }
      const rx = LONG_VALUED[name];
      if (rx) {
        const value = eq > 0 ? a.slice(eq + 1) : options[++i];
        if (value === undefined || !rx.test(value)) return refuse('bad_option', `bad value for rsync ${name}`);
        out.push(`${name}=${value}`);
        continue;
      }
      return refuse('bad_option', `rsync option ${JSON.stringify(name.slice(0, 100))} is not allowed`);
    }
    // rsync passes --modify-window to the server as `-@N`.
    if (/^-@-?\d{1,6}$/.test(a)) { out.push(a); continue; }
    if (a.startsWith('-') && a.length > 1) {
      const refusal = checkCluster(a.slice(1));
      if (refusal) return refuse('bad_option', refusal);
      out.push(a);
      continue;
    }
    return refuse('bad_option', `unexpected rsync argument ${JSON.stringify(a.slice(0, 100))}`);
  }
  // The target is passed as checked, real path (keeping a trailing '/').
  const dest = operands[0]!.endsWith('/') && !target.resolved.endsWith('/') ? `${target.resolved}/` : target.resolved;
  return { kind: 'rsync', argv: [policy.rsyncPath, '--server', ...out, '.', dest] };
}

/** null when a single-dash cluster is allowed, else why not. `e` must end it, as `e.<letters>`. */
function checkCluster(cluster: string): string | null {
  for (let j = 0; j < cluster.length; j++) {
    const c = cluster[j]!;
    if (c === 'e') {
      return /^\.[A-Za-z]*$/.test(cluster.slice(j + 1)) ? null : 'rsync -e (remote shell) is not allowed';
    }
    if (!CLUSTER_LETTERS.has(c)) return `rsync option -${JSON.stringify(c).slice(1, -1)} is not allowed`;
  }
  return null;
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
 * `gsyncd --dispatch --root DIR [--allow-volume VOL]... [--rsync-path P] [--program-name N]...`:
 * the words after --dispatch, parsed here so the CLI only has to hand them over.
 */
export function parseDispatchArgs(argv: readonly string[]): DispatchPolicy {
  let root: string | undefined;
  const allowVolumes: string[] = [];
  const programNames: string[] = [];
  let rsyncPath = 'rsync';
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
      case '--program-name': programNames.push(value()); break;
      default: throw new Error(`unknown dispatcher option ${JSON.stringify(a)}`);
    }
  }
  if (root === undefined) throw new Error('--dispatch needs --root DIR');
  return { root: path.resolve(root), allowVolumes, gsyncdArgv: selfGsyncdArgv(), rsyncPath, programNames };
}
