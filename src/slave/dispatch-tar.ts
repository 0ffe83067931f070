// `tar --extract` confinement (a master's --sync-method tar): only when the policy allows tar,
// reading the archive from stdin, with an allow-listed option set and a --directory inside the
// slave root or the aux mount of an allowed volume (by real path, as rsync's target). Nothing
// that runs programs (--to-command, --use-compress-program, --rsh-command, --info-script,
// --checkpoint-action, a remote --file), reads names from files (--files-from) or rewrites or
// keeps absolute member names (--transform, --absolute-names) gets through: GNU tar then
// refuses absolute and `..` member names and extracts below --directory.
import path from 'node:path';
import { refuse, type DispatchDecision, type DispatchPolicy, type DispatchProbe } from './dispatch-policy.js';
import { allowedArea, checkDest } from './dispatch-rsync.js';

/** Flags passed as given (the master's tarExtractArgs uses these). */
const FLAGS = new Set(['--numeric-owner', '--preserve-permissions', '--same-owner', '--no-same-owner', '--xattrs', '--acls', '--quoting-style=escape']);
const SHORT_FLAGS: Readonly<Record<string, string>> = { '-p': '--preserve-permissions' };
/** The xattr patterns accepted, as a shell would have unescaped them and as escaped for one. */
const XATTR_PATTERNS: Readonly<Record<string, string>> = {
  '--xattrs-include=user.*': '--xattrs-include=user.*',
  '--xattrs-include=user.\\*': '--xattrs-include=user.*',
};

export function decideTar(args: string[], policy: DispatchPolicy, probe: DispatchProbe): DispatchDecision {
  if (args[0] !== '--extract' && args[0] !== '-x') return refuse('forbidden_command', 'only tar --extract is allowed');
  if (!policy.allowTar) return refuse('forbidden_command', 'tar --extract is not allowed on this host (the dispatcher runs without --allow-tar)');
  let stdin = false;
  let dir: string | undefined;
  const out: string[] = [];
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    if (name === '--file' || name === '-f') {
      const value = name === '-f' ? args[++i] : a.slice(eq + 1);
      // Anything but stdin could name a device, a file to read, or host:path (a remote shell).
      if (value !== '-') return refuse('bad_option', 'tar must read the archive from stdin (--file=-)');
      stdin = true;
      continue;
    }
    if (name === '--directory' || name === '-C') {
      if (dir !== undefined) return refuse('bad_option', 'tar takes one --directory');
      const value = name === '-C' ? args[++i] : a.slice(eq + 1);
      if (value === undefined || value === '' || value.startsWith('-')) return refuse('bad_option', 'bad value for tar --directory');
      dir = value;
      continue;
    }
    const flag = FLAGS.has(a) ? a : SHORT_FLAGS[a] ?? XATTR_PATTERNS[a];
    if (flag) { out.push(flag); continue; }
    if (a.startsWith('-')) return refuse('bad_option', `tar option ${JSON.stringify(name.slice(0, 100))} is not allowed`);
    return refuse('bad_option', `unexpected tar argument ${JSON.stringify(a.slice(0, 100))} (member names are not allowed)`);
  }
  if (!stdin) return refuse('bad_option', 'tar must read the archive from stdin (--file=-)');
  if (dir === undefined) return refuse('bad_option', 'tar --extract needs --directory DIR inside the slave root');
  const target = checkDest(dir, path.resolve(policy.root), allowedArea(policy, probe), probe, 'tar directory');
  if (!target.ok) return target.decision;
  // The directory is passed as checked, real path.
  return { kind: 'tar', argv: [policy.tarPath ?? 'tar', '--extract', '--file=-', `--directory=${target.resolved}`, ...out] };
}
