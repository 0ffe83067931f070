// How a tar stream ended, from both ends' exit codes and messages: pure, so the rules are
// unit-tested apart from tar. Both tars run with LC_ALL=C and --quoting-style=escape, so every
// message about a member reads `tar: NAME: WHAT`, NAME with `\ooo`, `\n`, `\\`, `\:` escapes
// (a colon in a name is escaped: the first bare colon ends it).
import type { BytePath } from '../core/bytepath.js';
import type { RsyncResult } from './rsync.js';

export interface TarEnd {
  /** Exit code; null when it could not run or was killed. */
  readonly code: number | null;
  /** stderr as bytes in a latin1 string (names in messages are byte paths). */
  readonly stderr: string;
}

export interface TarVerdict {
  readonly result: RsyncResult;
  /** Gone (or changing) on the master while tar read it: churn, redone without backing off. */
  readonly vanished: BytePath[];
  /** Not (or not certainly) written on the slave. */
  readonly failed: BytePath[];
}

/**
 * What the creating tar says about a file that went away (or changed) while it was read. Paths
 * are given at the top level, so a removed file is `Cannot stat`, not `File removed before we
 * read it`; a file changed or shrunk while read reached the slave torn: not confirmed either.
 */
const VANISHED = [
  /^Cannot (?:stat|lstat|open|readlink): No such file or directory$/,
  /^File removed before we read it$/,
  /^file changed as we read it$/,
  /^File shrank by \d+ bytes; padding with zeros$/,
];

/** Lines that say nothing about a member: the closing summary, --totals, the dispatcher's log. */
function isNoise(line: string): boolean {
  return line === '' || line.startsWith('{') || /^(?:tar: )?Total bytes (?:written|read): /.test(line)
    || line === 'tar: Exiting with failure status due to previous errors';
}

/** `tar: NAME: WHAT` → [NAME unescaped, WHAT]; null for any other shape. */
export function parseTarMessage(line: string): [BytePath, string] | null {
  if (!line.startsWith('tar: ')) return null;
  let name = '';
  for (let i = 5; i < line.length; i++) {
    const c = line[i]!;
    if (c === ':') return line.startsWith(': ', i) && name !== '' ? [name, line.slice(i + 2)] : null;
    if (c !== '\\') { name += c; continue; }
    const next = line[++i];
    if (next === undefined) return null;
    const octal = /^[0-7]{1,3}/.exec(line.slice(i, i + 3))?.[0];
    if (octal) { name += String.fromCharCode(parseInt(octal, 8) & 0xff); i += octal.length - 1; continue; }
    name += ESCAPES[next] ?? next;
  }
  return null;
}

const ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', f: '\f', v: '\v', a: '\x07', b: '\b' };

/** Total bytes the creating tar wrote (its --totals line), 0 when absent. */
export function tarBytesWritten(stderr: string): number {
  return Number(/Total bytes written: (\d+)/.exec(stderr)?.[1] ?? '0');
}

/**
 * The stream's outcome. Exit 0 on both ends is ok whatever was said (warnings), but for a member
 * tar skipped (skippedOk). Otherwise every
 * message must name a path of the stream (or a directory above some: those below it), else the
 * whole stream counts as failed; so do exit codes tar does not use (a killed tar, ssh's 255, a
 * refusal by the slave's dispatcher) and a cut stderr.
 */
export function classifyTarStream(create: TarEnd, extract: TarEnd, paths: readonly BytePath[], stderrCut = false): TarVerdict {
  if (create.code === 0 && extract.code === 0) return skippedOk(create, paths);
  const whole: TarVerdict = { result: 'error', vanished: [], failed: [...paths] };
  // create: 1 = some files changed while read, 2 = errors; extract: 2 = errors.
  if (stderrCut || (create.code !== 0 && create.code !== 1 && create.code !== 2) || (extract.code !== 0 && extract.code !== 2)) return whole;
  const vanished = new Set<BytePath>();
  const failed = new Set<BytePath>();
  const pinAll = (end: TarEnd, isVanish: (what: string) => boolean): boolean => {
    let said = false;
    for (const line of end.stderr.split('\n')) {
      if (isNoise(line.trimEnd())) continue;
      const msg = parseTarMessage(line.trimEnd());
      if (!msg) return false;
      const [name, what] = msg;
      const hit = paths.filter((p) => p === name || p.startsWith(`${name}/`));
      if (hit.length === 0) return false;
      for (const p of hit) (isVanish(what) ? vanished : failed).add(p);
      said = true;
    }
    return said || end.code === 0;
  };
  if (!pinAll(create, (what) => VANISHED.some((rx) => rx.test(what)))) return whole;
  if (!pinAll(extract, () => false)) return whole;
  for (const p of failed) vanished.delete(p);
  const result: RsyncResult = failed.size > 0 ? 'partial' : 'vanished';
  return { result, vanished: [...vanished], failed: [...failed] };
}

/**
 * Exit 0 whatever tar skipped with a warning: a socket (or door) is not archived. One that was a
 * file when listed is not on the slave: failed, not confirmed.
 */
function skippedOk(create: TarEnd, paths: readonly BytePath[]): TarVerdict {
  const failed: BytePath[] = [];
  for (const line of create.stderr.split('\n')) {
    const msg = parseTarMessage(line.trimEnd());
    if (msg && /^(?:socket|door) ignored$/.test(msg[1]) && paths.includes(msg[0])) failed.push(msg[0]);
  }
  return failed.length ? { result: 'partial', vanished: [], failed } : { result: 'ok', vanished: [], failed: [] };
}
