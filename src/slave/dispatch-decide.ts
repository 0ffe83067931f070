// The whole dispatch policy for an SSH_ORIGINAL_COMMAND: split on whitespace like the
// original's C wrapper (§3.2: no shell, no quoting), then only `gsyncd --slave` (decided here:
// our own slave mode, the root forced to the configured one or to an allowed volume) and
// `rsync --server` (dispatch-rsync.ts) and, where allowed, `tar --extract` (dispatch-tar.ts)
// get through. No I/O but the probe's reads.
import path from 'node:path';
import { findTunable } from '../options/tunables.js';
import { parseUrl } from '../url/url.js';
import { refuse, type DispatchDecision, type DispatchPolicy, type DispatchProbe } from './dispatch-policy.js';
import { decideRsync } from './dispatch-rsync.js';
import { decideTar } from './dispatch-tar.js';

/** Longest single word accepted (guards against absurd input). */
const MAX_WORD = 4096;
const MAX_WORDS = 256;

/** What to run for `originalCommand`, or why not; never throws. */
export function decideDispatchWith(originalCommand: string | undefined, policy: DispatchPolicy, probe: DispatchProbe): DispatchDecision {
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
  if (program === 'tar') return decideTar(argv.slice(1), policy, probe);
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
