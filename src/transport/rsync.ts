// Runs real rsync for a batch's data: NUL-separated relative paths on stdin (--files-from=- -0),
// --relative so they land at the same place below the slave root. Directories are created by
// entry ops beforehand, hence --no-implied-dirs; -a without -r does not recurse into listed dirs.
import { spawn } from 'node:child_process';
import { fromText, joinRel, parentOf, pathBytes, type BytePath } from '../core/bytepath.js';
import type { RsyncTarget } from '../protocol/endpoint.js';

export type RsyncResult = 'ok' | 'partial' | 'vanished' | 'error';

export interface RsyncRun {
  readonly result: RsyncResult;
  readonly exitCode: number | null;
  readonly bytesSent: number;
  readonly filesTransferred: number;
  readonly stderr: string;
  /** stderr was cut at 1 MiB: it may not name every failed or vanished file. */
  readonly stderrCut: boolean;
  readonly durationMs: number;
}

export interface RsyncConfig {
  readonly command: string[];
  readonly extraOptions: string[];
  readonly remoteOptions: string[];
}

export function rsyncArgs(cfg: RsyncConfig, target: RsyncTarget): string[] {
  // --modify-window=-1: times must match to the nanosecond. rsync's default compares whole
  // seconds, so a directory or symlink created within the same second would keep its slave mtime.
  // No --ignore-missing-args: a listed file gone since the listing must be reported (sender-side
  // ENOENT, classified as vanished): what holds it is not marked. Silently skipped, a file whose
  // ancestor was renamed meanwhile was marked synced and never sent.
  const args = ['-aR0', '--files-from=-', '--numeric-ids', '--no-implied-dirs', '--modify-window=-1', '--stats', ...cfg.extraOptions];
  // --super: keep owners, devices and specials on the slave even where rsync would not try.
  if (process.getuid?.() === 0 && !target.unprivileged) args.splice(1, 0, '--super');
  if (target.rsh) args.push('-e', target.rsh, ...cfg.remoteOptions);
  args.push('.', target.dest.endsWith('/') ? target.dest : target.dest + '/');
  return args;
}

/**
 * Exit 23 = some files could not be transferred; 24 = some vanished on the live master. rsync
 * says 23 also when a listed file is gone, or vanished between its own steps on the sender (its
 * ACL or xattrs read after its stat): with only sender-side ENOENTs, it is a vanish like 24, which
 * the engine treats as churn (see vanishedPathsOf), not as a failure to retry.
 */
export function classifyRsyncExit(code: number | null, stderr = ''): RsyncResult {
  if (code === 0) return 'ok';
  if (code === 23) return onlySenderVanished(stderr) ? 'vanished' : 'partial';
  if (code === 24) return 'vanished';
  return 'error';
}

const SENDER_ENOENT = /^rsync: \[sender\] .*: No such file or directory \(2\)$/;

function onlySenderVanished(stderr: string): boolean {
  const errors = stderr.split('\n').filter((l) => l.startsWith('rsync: ') || l.startsWith('rsync error: '));
  const specific = errors.filter((l) => !l.startsWith('rsync error: some files/attrs were not transferred'));
  return specific.length > 0 && specific.length === errors.length - 1 && specific.every((l) => SENDER_ENOENT.test(l));
}

export function parseStats(stdout: string): { bytesSent: number; filesTransferred: number } {
  const num = (re: RegExp) => Number((re.exec(stdout)?.[1] ?? '0').replace(/[,.]/g, ''));
  return {
    bytesSent: num(/Total bytes sent:\s*([\d,.]+)/),
    filesTransferred: num(/Number of regular files transferred:\s*([\d,.]+)/),
  };
}

export async function runRsync(cfg: RsyncConfig, sourceRoot: string, target: RsyncTarget, paths: BytePath[]): Promise<RsyncRun> {
  const started = Date.now();
  const [cmd, ...pre] = cfg.command;
  const child = spawn(cmd!, [...pre, ...rsyncArgs(cfg, target)], { cwd: sourceRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  let stderrCut = false;
  child.stderr.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 1 << 20) stderr += d; else stderrCut = true; });
  child.stdin.on('error', () => { /* rsync died early: its exit code tells why */ });
  const exit = new Promise<number | null>((resolve) => {
    child.on('error', (err) => { stderr += String(err); resolve(null); });
    child.on('close', (code) => resolve(code));
  });
  for (const p of paths) {
    if (!child.stdin.write(Buffer.concat([pathBytes(p), Buffer.from([0])]))) {
      await new Promise<void>((r) => { child.stdin.once('drain', r); child.once('close', r); });
    }
  }
  child.stdin.end();
  const code = await exit;
  return { result: classifyRsyncExit(code, stderr), exitCode: code, ...parseStats(stdout), stderr: stderr.trim(), stderrCut, durationMs: Date.now() - started };
}

/** The directory an rsync destination (`/path` or `host:/path`) names on the slave host. */
export function destPath(dest: string): string {
  return dest.startsWith('/') ? dest : dest.slice(dest.indexOf(':') + 1);
}

/**
 * Which of a run's paths rsync reported failing, from its error lines (each names the file in
 * quotes, absolute below a root or relative; a temp file `.NAME.XXXXXX` stands for NAME; a
 * directory stands for the run's paths below it). One file refused by the slave then no longer
 * keeps every other file of its run unmarked. null when any error cannot be pinned to a path of
 * the run: the whole run counts as failed.
 */
export function failedPathsOf(stderr: string, paths: readonly BytePath[], roots: readonly string[]): Set<BytePath> | null {
  const lines = stderr.split('\n');
  if (lines.some((l) => l.startsWith('rsync error: ') && !l.startsWith('rsync error: some files/attrs were not transferred'))) return null;
  const errors = lines.filter((l) => l.startsWith('rsync: '));
  if (errors.length === 0) return null;
  const pin = pinner(paths, roots);
  for (const line of errors) if (!pin(quotedIn(line))) return null;
  return pin.found;
}

/**
 * Adds the run's paths a message names (or that lie below a directory it names) to `found`;
 * false when it names none of them.
 */
function pinner(paths: readonly BytePath[], roots: readonly string[]): ((named: string[]) => boolean) & { found: Set<BytePath> } {
  const bases = roots.map((r) => fromText(r.replace(/\/+$/, '')));
  const found = new Set<BytePath>();
  const pin = (named: string[]) => {
    let pinned = false;
    for (const q of named) {
      const rel = relativeTo(fromText(q), bases);
      if (rel === null) continue;
      for (const p of paths) if (p === rel || p.startsWith(`${rel}/`)) { found.add(p); pinned = true; }
    }
    return pinned;
  };
  return Object.assign(pin, { found });
}

function quotedIn(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
}

/** A path from an rsync message, relative to the roots; a temp file `.NAME.XXXXXX` is NAME. */
function relativeTo(q: BytePath, bases: readonly BytePath[]): BytePath | null {
  let rel: BytePath | null = null;
  if (!q.startsWith('/')) rel = q.replace(/^\.\//, '');
  else for (const b of bases) if (q === b) rel = '.'; else if (q.startsWith(`${b}/`)) rel = q.slice(b.length + 1);
  if (rel === null) return null;
  if (rel === '') return '.';
  const temp = /^\.(.+)\.[A-Za-z0-9]{6}$/.exec(rel.slice(rel.lastIndexOf('/') + 1));
  return temp ? joinRel(parentOf(rel), temp[1]!) : rel;
}

/**
 * Which of a run's paths vanished on the master during a run rsync ended as 'vanished': the files
 * it says vanished, and those a sender-side ENOENT names (a directory stands for the paths below
 * it). They were not transferred, so what holds them must not be marked: a file gone because an
 * ancestor was renamed sits, on the slave, in a directory whose xtime the rename did not move.
 * null when a line cannot be pinned: then every path of the run counts as vanished.
 */
export function vanishedPathsOf(stderr: string, paths: readonly BytePath[], roots: readonly string[]): Set<BytePath> | null {
  const pin = pinner(paths, roots);
  for (const line of stderr.split('\n')) {
    let named: string[];
    if (line.startsWith('file has vanished: ')) named = quotedIn(line);
    else if (SENDER_ENOENT.test(line)) {
      const acl = /sys_acl_get_file\((.*), ACL_TYPE_[A-Z]+\)/.exec(line)?.[1];
      named = acl !== undefined ? [acl] : quotedIn(line);
    } else if (line.startsWith('rsync: ')) return null;
    else continue;
    if (!pin(named)) return null;
  }
  return pin.found.size > 0 ? pin.found : null;
}