// --config-set / --config-del: change one key in one section of the config file, keeping every
// other line (comments included) byte for byte, and replace the file atomically so a crash or a
// bad value never leaves a partial file behind.
import { open, readFile, realpath, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { gsyncdError } from '../core/errors.js';
import { findTunable, tunableNames, type Tunable } from '../options/tunables.js';
import { classifyLine, parseEntryValue, parseSectionHeader, type SectionScope } from './config-file.js';
import { notEffective } from './resolve.js';
import { didYouMean } from './suggest.js';

export type ConfigEdit =
  | { readonly op: 'set'; readonly name: string; readonly value: string }
  | { readonly op: 'del'; readonly name: string };

/** The tunable NAME denotes in a config operation; unknown (or an alias) is a usage error with a hint. */
export function tunableForConfigOp(name: string): Tunable {
  const spec = findTunable(name);
  if (spec === undefined) throw gsyncdError('GSYNCD_ERR_USAGE', `unknown tunable '${name}'${didYouMean(name, tunableNames())}`);
  return spec;
}

/** Check a --config-set value as the reader will see it; throws a usage error. */
function checkNewValue(spec: Tunable, value: string): void {
  if (/[\r\n]/.test(value)) throw gsyncdError('GSYNCD_ERR_BAD_OPTION_VALUE', `bad value for ${spec.name}: line breaks are not allowed`);
  const read = classifyLine(`${spec.name}: ${value}`);
  if (read.kind !== 'entry' || read.value !== value.trim()) {
    throw gsyncdError('GSYNCD_ERR_BAD_OPTION_VALUE', `bad value for ${spec.name}: ' #' would start a comment`);
  }
  const parsed = parseEntryValue(spec, value);
  if ('problem' in parsed) throw gsyncdError('GSYNCD_ERR_BAD_OPTION_VALUE', parsed.problem);
  if (!spec.effective) throw notEffective(spec, { from: 'flag', flag: '--config-set' });
}

/**
 * The new file text. `urls` (normalized) select the `[peers …]` section, created at the end when
 * missing; no URLs select the global part (the lines before the first section).
 */
export function applyConfigEdit(text: string, edit: ConfigEdit, urls: readonly string[], path: string): string {
  const spec = tunableForConfigOp(edit.name);
  if (edit.op === 'set') checkNewValue(spec, edit.value);
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const headers = sectionHeaders(lines, path);
  let start = 0;
  let end = headers[0]?.index ?? lines.length;
  if (urls.length > 0) {
    const at = headers.findIndex((h) => h.scope.kind === 'peers' && sameUrls(h.scope.urls, urls));
    if (at < 0) {
      if (edit.op === 'del') return text;
      const gap = lines.length > 0 && lines.at(-1)?.trim() !== '' ? [''] : [];
      return [...lines, ...gap, `[peers ${urls.join(' ')}]`, `${spec.name}: ${edit.value}`, ''].join('\n');
    }
    start = (headers[at]?.index ?? 0) + 1;
    end = headers[at + 1]?.index ?? lines.length;
  }
  const isKey = (line: string): boolean => {
    const shape = classifyLine(line);
    return shape.kind === 'entry' && findTunable(shape.key)?.name === spec.name;
  };
  const matches = range(start, end).filter((i) => isKey(lines[i] ?? ''));
  if (edit.op === 'del' && matches.length === 0) return text;
  const out = [...lines];
  for (const i of [...matches].reverse()) out.splice(i, 1); // deepest first keeps earlier indexes valid
  if (edit.op === 'set') {
    const line = `${spec.name}: ${edit.value}`;
    const first = matches[0];
    if (first !== undefined) out.splice(first, 0, line);
    else out.splice(insertionPoint(lines, start, end, spec), 0, line);
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

/** After the commented-out default (`#sync-jobs: 3`) when the section has one, else after its last non-blank line. */
function insertionPoint(lines: readonly string[], start: number, end: number, spec: Tunable): number {
  const commented = new RegExp(`^\\s*#\\s*${spec.name.replace(/-/g, '[-_]')}\\s*[:=]`, 'i');
  const template = range(start, end).find((i) => commented.test(lines[i] ?? ''));
  if (template !== undefined) return template + 1;
  let last = start;
  for (const i of range(start, end)) if ((lines[i] ?? '').trim() !== '') last = i + 1;
  return last;
}

function sectionHeaders(lines: readonly string[], path: string): { index: number; scope: SectionScope }[] {
  const out: { index: number; scope: SectionScope }[] = [];
  lines.forEach((line, index) => {
    const shape = classifyLine(line);
    const fail = (reason: string): never => {
      throw gsyncdError('GSYNCD_ERR_CONFIG', `${path}:${index + 1}: ${reason}`);
    };
    if (shape.kind === 'bad') fail(shape.reason);
    if (shape.kind !== 'section') return;
    try {
      out.push({ index, scope: parseSectionHeader(shape.body) });
    } catch (err) {
      fail((err as Error).message);
    }
  });
  return out;
}

function sameUrls(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((u, i) => u === b[i]);
}

function range(start: number, end: number): number[] {
  return Array.from({ length: Math.max(0, end - start) }, (_, k) => start + k);
}

/** Read, edit and atomically replace the config file (created if missing). */
export async function editConfigFile(path: string, edit: ConfigEdit, urls: readonly string[]): Promise<void> {
  const target = await realpath(path).catch(() => path); // edit through a symlink, do not replace it
  let text = '';
  try {
    text = await readFile(target, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw cannotUpdate(target, err);
  }
  const next = applyConfigEdit(text, edit, urls, target);
  if (next !== text) await writeFileAtomic(target, next);
}

/** FILE.tmp.PID, fsync, rename over FILE, fsync the directory: readers see the old or the new file, never a mix. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp.${process.pid}`;
  const mode = await stat(path).then((s) => s.mode & 0o7777, () => 0o644);
  try {
    const file = await open(tmp, 'w', mode);
    try {
      await file.writeFile(text, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw cannotUpdate(path, err);
  }
}

function cannotUpdate(path: string, cause: unknown): Error {
  return gsyncdError('GSYNCD_ERR_CONFIG', `cannot update config file ${path}`, cause);
}
