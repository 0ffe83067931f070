// `rsync --server` confinement: only a receiving server, with allow-listed options, writing to a
// target (and --temp-dir/--partial-dir) inside the slave root or the aux mount of an allowed
// volume — by real path, symlinks resolved through the probe.
import os from 'node:os';
import path from 'node:path';
import { refuse, type DispatchDecision, type DispatchPolicy, type DispatchProbe, type DispatchRefusal } from './dispatch-policy.js';

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

export interface AllowedArea {
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

export function allowedArea(policy: DispatchPolicy, probe: DispatchProbe): AllowedArea {
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
export function checkDest(raw: string, base: string, area: AllowedArea, probe: DispatchProbe, what: string): { ok: true; resolved: string } | { ok: false; decision: DispatchDecision } {
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

export function decideRsync(args: string[], policy: DispatchPolicy, probe: DispatchProbe): DispatchDecision {
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
export function checkCluster(cluster: string): string | null {
  for (let j = 0; j < cluster.length; j++) {
    const c = cluster[j]!;
    if (c === 'e') {
      return /^\.[A-Za-z]*$/.test(cluster.slice(j + 1)) ? null : 'rsync -e (remote shell) is not allowed';
    }
    if (!CLUSTER_LETTERS.has(c)) return `rsync option -${JSON.stringify(c).slice(1, -1)} is not allowed`;
  }
  return null;
}
