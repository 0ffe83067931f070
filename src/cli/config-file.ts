// The config file: `key: value` (or `key = value`) lines, `#` comments, and per-session sections
// as in the original: lines before any section are global; `[peers MASTER SLAVE]` names one
// session exactly, `[peersrx RX RX]` every session whose normalized URLs the regexes find a match
// in; one-URL variants (`[peers SLAVE]`, `[peersrx RX]`) apply to the slave side. Any problem is
// reported as `FILE:LINE: reason` (exit 78) before anything runs or is written.
import { readFile } from 'node:fs/promises';
import { gsyncdError } from '../core/errors.js';
import { parseTunableValue, type ParsedValue, type TypedValue } from '../options/option-values.js';
import { findTunable, tunableNames, type Tunable, type TunableName } from '../options/tunables.js';
import { normalizeUrl, parseUrl } from '../url/url.js';
import { didYouMean } from './suggest.js';

export type LineShape =
  | { readonly kind: 'blank' | 'comment' }
  | { readonly kind: 'section'; readonly body: string }
  | { readonly kind: 'entry'; readonly key: string; readonly value: string }
  | { readonly kind: 'bad'; readonly reason: string };

/** What one line is, syntactically. Trailing ` # …` comments are dropped from values. */
export function classifyLine(line: string): LineShape {
  const text = line.trim();
  if (text === '') return { kind: 'blank' };
  if (text.startsWith('#') || text.startsWith(';')) return { kind: 'comment' };
  if (text.startsWith('[')) {
    const header = text.replace(/\s+#.*$/, '');
    return header.endsWith(']') ? { kind: 'section', body: header.slice(1, -1).trim() } : { kind: 'bad', reason: 'section header must end with ]' };
  }
  const m = /^([A-Za-z0-9_-]+)\s*[:=]\s?(.*)$/.exec(text);
  if (m === null) return { kind: 'bad', reason: `expected 'key: value', got '${text}'` };
  const value = (m[2] ?? '').replace(/\s+#.*$/, '').trim();
  return { kind: 'entry', key: m[1] ?? '', value };
}

export type SectionScope =
  | { readonly kind: 'global' }
  | { readonly kind: 'peers'; readonly urls: readonly string[] }
  | { readonly kind: 'peersrx'; readonly patterns: readonly RegExp[] };

/** `peers URL [URL]` / `peersrx RX [RX]`; throws a reason string's worth of Error. */
export function parseSectionHeader(body: string): SectionScope {
  const [kind, ...args] = body.split(/\s+/);
  if ((kind !== 'peers' && kind !== 'peersrx') || args.length < 1 || args.length > 2) {
    throw new Error(`bad section header '[${body}]' (expected [peers MASTER SLAVE], [peersrx RX RX] or their one-URL forms)`);
  }
  if (kind === 'peers') return { kind, urls: args.map((a) => normalizeUrl(parseUrl(a))) };
  return {
    kind,
    patterns: args.map((a) => {
      try {
        return new RegExp(a);
      } catch {
        throw new Error(`bad regular expression '${a}' in section header`);
      }
    }),
  };
}

export interface ConfigEntry {
  readonly name: TunableName;
  readonly value: TypedValue;
  readonly file: string;
  readonly line: number;
}
export interface ConfigSection {
  readonly scope: SectionScope;
  readonly entries: readonly ConfigEntry[];
}
export interface ConfigFile {
  readonly path: string;
  /** In file order; the first is always the global part (possibly empty). */
  readonly sections: readonly ConfigSection[];
}

/** Names usable as `${name}` in string values; see docs/options.md. */
export const templateNames = ['master', 'slave', 'eMaster', 'eSlave', 'mastervol', 'slavevol'] as const;
const templateRef = /\$\{([^}]*)\}/g;

/** A config value for `spec`: its type, and `${name}` templates only in text values and only known names. */
export function parseEntryValue(spec: Tunable, text: string): ParsedValue {
  const parsed = parseTunableValue(spec, text);
  if ('problem' in parsed) return { problem: `bad value for ${spec.name}: ${parsed.problem}` };
  for (const m of text.matchAll(templateRef)) {
    if (spec.type !== 'string') return { problem: `templates are only allowed in text values, not in ${spec.name}` };
    if (!(templateNames as readonly string[]).includes(m[1] ?? '')) {
      return { problem: `unknown template \${${m[1]}} (known: ${templateNames.map((n) => `\${${n}}`).join(' ')})` };
    }
  }
  return parsed;
}

export function parseConfigText(text: string, path: string): ConfigFile {
  const sections: { scope: SectionScope; entries: ConfigEntry[] }[] = [{ scope: { kind: 'global' }, entries: [] }];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const fail = (reason: string): never => {
      throw gsyncdError('GSYNCD_ERR_CONFIG', `${path}:${line}: ${reason}`);
    };
    const shape = classifyLine(raw);
    switch (shape.kind) {
      case 'blank':
      case 'comment':
        return;
      case 'bad':
        return fail(shape.reason);
      case 'section':
        try {
          sections.push({ scope: parseSectionHeader(shape.body), entries: [] });
        } catch (err) {
          fail(err instanceof Error ? err.message : String(err));
        }
        return;
      case 'entry': {
        const spec = findTunable(shape.key);
        if (spec === undefined) return fail(`unknown key '${shape.key}'${didYouMean(shape.key, tunableNames())}`);
        const parsed = parseEntryValue(spec, shape.value);
        if ('problem' in parsed) return fail(parsed.problem);
        sections.at(-1)?.entries.push({ name: spec.name, value: parsed.value, file: path, line });
        return;
      }
    }
  });
  return { path, sections };
}

/**
 * Read and parse. A missing file is an error only when the user named it (-c); the default one
 * may be absent (null).
 */
export async function loadConfigFile(path: string, explicit: boolean): Promise<ConfigFile | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (!explicit && (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw gsyncdError('GSYNCD_ERR_CONFIG', `cannot read config file ${path}`, err);
  }
  return parseConfigText(text, path);
}

/** Does a section apply to a process working on `urls` (normalized; 2 = master, 1 = slave, 0 = neither)? */
export function sectionApplies(scope: SectionScope, urls: readonly string[]): boolean {
  switch (scope.kind) {
    case 'global':
      return true;
    case 'peers':
      return scope.urls.length === urls.length && scope.urls.every((u, i) => u === urls[i]);
    case 'peersrx':
      return scope.patterns.length === urls.length && scope.patterns.every((rx, i) => rx.test(urls[i] ?? ''));
  }
}

/** Entries in application order: global, matching peersrx sections in file order, exact peers last. */
export function applicableEntries(config: ConfigFile | null, urls: readonly string[]): ConfigEntry[] {
  if (config === null) return [];
  const rank = { global: 0, peersrx: 1, peers: 2 } as const;
  return config.sections
    .filter((s) => sectionApplies(s.scope, urls))
    .sort((a, b) => rank[a.scope.kind] - rank[b.scope.kind]) // stable: file order within a kind
    .flatMap((s) => s.entries);
}

/** Substitute `${name}`; names without a value stay verbatim when `lenient` (--config-get). */
export function expandTemplates(text: string, vars: Readonly<Record<string, string | undefined>>, lenient: boolean): string {
  return text.replace(templateRef, (whole, name: string) => {
    const value = vars[name];
    if (value !== undefined) return value;
    if (lenient) return whole;
    throw new Error(`template \${${name}} has no value for this session`);
  });
}
