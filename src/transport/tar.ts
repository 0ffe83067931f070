// File data as a GNU tar stream (geo-replication's use_tarssh): `tar --create` on the master
// reads NUL-separated relative paths on stdin from the source root, its archive is piped into a
// `tar --extract -C DEST` on the slave side: spawned here for a local slave, else run on the
// slave host through the rsh rsync uses (`RSH HOST tar --extract ...`: the session's bridge or
// ssh; there the dispatcher checks it). One round trip per stream instead of rsync's per-file
// exchanges; no temporary file: the extracting tar removes a file and writes the new one at its
// name. The run has the RsyncRun shape, so metrics and logs take both.
import { spawn } from 'node:child_process';
import { pathBytes, type BytePath } from '../core/bytepath.js';
import type { RsyncTarget } from '../protocol/endpoint.js';
import type { RsyncRun } from './rsync.js';
import { classifyTarStream, tarBytesWritten, type TarEnd } from './tar-exit.js';

export interface TarConfig {
  /** The master's GNU tar, split on whitespace. */
  readonly command: string[];
  /** user.* extended attributes (gsyncd's own marks excluded), as rsync's --sync-xattrs filters. */
  readonly xattrs: boolean;
  readonly acls: boolean;
  /** Store holes as holes (rsync's --sparse among the rsync options). */
  readonly sparse: boolean;
}

export interface TarRun extends RsyncRun {
  readonly vanished: readonly BytePath[];
  readonly failed: readonly BytePath[];
}

/**
 * The creating tar's arguments. --no-recursion: a listed directory stands for itself only;
 * --hard-dereference: every name is a copy, as rsync without -H (the engine links names itself);
 * --verbatim-files-from: a name starting with '-' is a name, not an option; posix format keeps
 * nanosecond times, xattrs and ACLs. Positional options come before --files-from.
 */
export function tarCreateArgs(cfg: TarConfig): string[] {
  return [
    '--create', '--file=-', '--format=posix', '--numeric-owner', '--no-recursion', '--hard-dereference', '--totals', '--quoting-style=escape',
    ...(cfg.sparse ? ['--sparse'] : []),
    ...(cfg.xattrs ? ['--xattrs', '--xattrs-include=user.*', '--xattrs-exclude=user.gsyncd.*'] : []),
    ...(cfg.acls ? ['--acls'] : []),
    '--null', '--verbatim-files-from', '--files-from=-',
  ];
}

/**
 * The extracting tar's arguments: exactly what the slave's dispatcher allows. Extraction restores
 * user.* xattrs only unless told otherwise (GNU tar's default): no pattern to quote for a remote
 * shell. Absolute and `..` member names stay refused (no --absolute-names).
 */
export function tarExtractArgs(cfg: TarConfig, dir: string, asOwner: boolean): string[] {
  return [
    '--extract', '--file=-', `--directory=${dir}`, '--numeric-owner', '--preserve-permissions', '--quoting-style=escape',
    asOwner ? '--same-owner' : '--no-same-owner',
    ...(cfg.xattrs ? ['--xattrs'] : []),
    ...(cfg.acls ? ['--acls'] : []),
  ];
}

/** `[user@]host:path` (host maybe `[v6]`) → host part and path; null without a host. */
export function splitRemoteDest(dest: string): { host: string; path: string } | null {
  let depth = 0;
  for (let i = 0; i < dest.length; i++) {
    const c = dest[i];
    if (c === '/' && depth === 0) return null;
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === ':' && depth === 0) return i > 0 ? { host: dest.slice(0, i), path: dest.slice(i + 1) } : null;
  }
  return null;
}

/** Remote words are joined with spaces and split again (by a shell, or the dispatcher on whitespace). */
const REMOTE_SAFE = /^[A-Za-z0-9_./+,@%=:-]+$/;

/** The receiving command for `target`: local tar, or the rsh with the host and tar's words. */
export function tarReceiverArgv(cfg: TarConfig, target: RsyncTarget, uid: number | undefined): string[] {
  if (!target.rsh) return [...cfg.command, ...tarExtractArgs(cfg, target.dest, uid === 0)];
  const remote = splitRemoteDest(target.dest);
  if (!remote) throw new Error(`cannot tell the host in the rsync destination ${JSON.stringify(target.dest)}`);
  if (!REMOTE_SAFE.test(remote.path)) throw new Error(`the slave path ${JSON.stringify(remote.path)} would need quoting for a remote tar; use --sync-method rsync`);
  const rsh = target.rsh.split(/\s+/).filter(Boolean);
  return [...rsh, remote.host, 'tar', ...tarExtractArgs(cfg, remote.path, !target.unprivileged)];
}

/** English messages, escape-quoted names; no TAR_OPTIONS from the environment. */
function tarEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C' };
  delete env['TAR_OPTIONS'];
  return env;
}

const STDERR_LIMIT = 1 << 20;

/** Run one stream of `paths` from `sourceRoot` to `target`; never throws. */
export async function runTar(cfg: TarConfig, sourceRoot: string, target: RsyncTarget, paths: readonly BytePath[]): Promise<TarRun> {
  const started = Date.now();
  let receiver: string[];
  try {
    receiver = tarReceiverArgv(cfg, target, process.getuid?.());
  } catch (err) {
    const stderr = (err as Error).message;
    return { result: 'error', exitCode: null, bytesSent: 0, filesTransferred: 0, stderr, stderrCut: false, durationMs: 0, vanished: [], failed: [...paths] };
  }
  let stderrCut = false;
  const collect = (child: ReturnType<typeof spawn>) => {
    const end = { code: null as number | null, stderr: '' };
    child.stderr!.setEncoding('latin1').on('data', (d: string) => { if (end.stderr.length < STDERR_LIMIT) end.stderr += d; else stderrCut = true; });
    const done = new Promise<TarEnd>((resolve) => {
      child.on('error', (err) => { end.stderr += `${String(err)}\n`; resolve(end); });
      child.on('close', (code) => { end.code = code; resolve(end); });
    });
    return done;
  };
  const env = tarEnv();
  const [cmd, ...pre] = cfg.command;
  const creator = spawn(cmd!, [...pre, ...tarCreateArgs(cfg)], { cwd: sourceRoot, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const extractor = spawn(receiver[0]!, receiver.slice(1), { env, stdio: ['pipe', 'ignore', 'pipe'] });
  const created = collect(creator);
  const extracted = collect(extractor);
  // Piped here, not fd to fd: a receiver that dies breaks the creator's pipe (EPIPE), not a hang.
  creator.stdout!.pipe(extractor.stdin!);
  extractor.stdin!.on('error', () => { creator.stdout!.destroy(); });
  creator.stdin!.on('error', () => { /* tar died early: its exit code tells why */ });
  for (const p of paths) {
    if (!creator.stdin!.write(Buffer.concat([pathBytes(p), Buffer.from([0])]))) {
      await new Promise<void>((r) => { creator.stdin!.once('drain', r); creator.once('close', r); });
    }
  }
  creator.stdin!.end();
  const [c, x] = await Promise.all([created, extracted]);
  const verdict = classifyTarStream(c, x, paths, stderrCut);
  const text = (s: string) => Buffer.from(s, 'latin1').toString('utf8').trim();
  const stderr = [text(c.stderr), text(x.stderr)].filter(Boolean).join('\n');
  const filesTransferred = verdict.result === 'error' ? 0 : paths.length - verdict.vanished.length - verdict.failed.length;
  // The exit code shown is the first end that failed (the creator's, else the receiver's).
  const exitCode = c.code !== 0 ? c.code : x.code;
  return { result: verdict.result, exitCode, bytesSent: tarBytesWritten(c.stderr), filesTransferred, stderr, stderrCut, durationMs: Date.now() - started, vanished: verdict.vanished, failed: verdict.failed };
}
