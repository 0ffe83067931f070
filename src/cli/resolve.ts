// Layering: flag > GSYNCD_* env > config file > default, then the refusal of options whose
// feature is not built yet, then the --debug overrides.
import { dirname, resolve as resolvePath } from 'node:path';
import { gsyncdError } from '../core/errors.js';
import { expandTemplates, type ConfigEntry } from './config-file.js';
import {
  buildResolvedOptions, envVarOf, tunables,
  type ControlSettings, type ResolvedOptions, type Tunable, type TunableName, type ValueSource,
} from '../options/tunables.js';
import { parseTunableValue, type TypedValue } from '../options/option-values.js';

/** A tunable given on the command line: the raw text (true/false for bare boolean flags) and the spelling used. */
export interface FlagValue {
  readonly value: string | boolean;
  readonly flag: string;
}

export interface ResolveInput {
  readonly flags: ReadonlyMap<TunableName, FlagValue>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Config entries in application order (later wins). */
  readonly entries: readonly ConfigEntry[];
  /** Values for `${name}` templates in config values. */
  readonly templateVars: Readonly<Record<string, string | undefined>>;
  /** Leave unresolvable templates verbatim instead of failing (config printing without URLs). */
  readonly lenientTemplates: boolean;
  readonly cwd: string;
  readonly control: ControlSettings;
  /** Values that stand in for an empty one, known only at run time (remote-gsyncd: this program). */
  readonly derivedDefaults?: Partial<Record<TunableName, string>>;
}

export function resolveOptions(input: ResolveInput): ResolvedOptions {
  const values = new Map<TunableName, TypedValue>();
  const sources = new Map<TunableName, ValueSource>();
  const lastEntry = new Map<TunableName, ConfigEntry>();
  for (const entry of input.entries) lastEntry.set(entry.name, entry);

  for (const spec of tunables) {
    const flag = input.flags.get(spec.name);
    const envVar = envVarOf(spec.name);
    const envText = input.env[envVar];
    const entry = lastEntry.get(spec.name);
    let value: TypedValue = spec.default;
    let source: ValueSource = { from: 'default' };
    if (flag !== undefined) {
      value = parsed(spec, flag.value, (problem) =>
        gsyncdError('GSYNCD_ERR_BAD_OPTION_VALUE', `bad value for ${flag.flag}: ${problem}`));
      value = absolutize(spec, value, input.cwd);
      source = { from: 'flag', flag: flag.flag };
    } else if (envText !== undefined && envText !== '') {
      value = parsed(spec, envText, (problem) =>
        gsyncdError('GSYNCD_ERR_CONFIG', `${envVar}: bad value for ${spec.name}: ${problem}`));
      value = absolutize(spec, value, input.cwd);
      source = { from: 'env', variable: envVar };
    } else if (entry !== undefined) {
      value = entry.value;
      if (typeof value === 'string') {
        try {
          value = expandTemplates(value, input.templateVars, input.lenientTemplates);
        } catch (err) {
          throw gsyncdError('GSYNCD_ERR_CONFIG', `${entry.file}:${entry.line}: ${(err as Error).message}`);
        }
      }
      value = absolutize(spec, value, dirname(entry.file));
      source = { from: 'config', file: entry.file, line: entry.line };
    }
    if (source.from !== 'default' && !spec.effective) throw notEffective(spec, source);
    const derived = input.derivedDefaults?.[spec.name];
    if (value === '' && derived !== undefined) value = derived;
    values.set(spec.name, value);
    sources.set(spec.name, source);
  }

  if (input.control.debug) applyDebug(values, sources);
  return buildResolvedOptions(values, sources, input.control);
}

function parsed(spec: Tunable, raw: string | boolean, fail: (problem: string) => Error): TypedValue {
  const result = parseTunableValue(spec, raw);
  if ('problem' in result) throw fail(result.problem);
  return result.value;
}

/** Daemons change directory, so relative paths are pinned now; '' and '-' keep their meaning. */
function absolutize(spec: Tunable, value: TypedValue, base: string): TypedValue {
  if (!('path' in spec) || !spec.path || typeof value !== 'string' || value === '' || value === '-') return value;
  return resolvePath(base, value);
}

export function notEffective(spec: Tunable, source: ValueSource): Error {
  const planned = spec.effective ? '' : spec.planned;
  const what = `${spec.name} is not effective yet in this version (planned: ${planned})`;
  switch (source.from) {
    case 'flag':
      return gsyncdError('GSYNCD_ERR_NOT_YET_EFFECTIVE', `--${what}`);
    case 'env':
      return gsyncdError('GSYNCD_ERR_NOT_YET_EFFECTIVE', `${source.variable}: ${what}`);
    case 'config':
      // A config file line is a configuration error (78), like any other bad line.
      return gsyncdError('GSYNCD_ERR_CONFIG', `${source.file}:${source.line}: ${what}`);
    case 'default':
      return gsyncdError('GSYNCD_ERR_INTERNAL', `a default was refused: ${what}`);
  }
}

const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** --debug, as in the original: log to stderr, at least at debug level. */
function applyDebug(values: Map<TunableName, TypedValue>, sources: Map<TunableName, ValueSource>): void {
  const bySelf: ValueSource = { from: 'flag', flag: '--debug' };
  if (levels.indexOf(String(values.get('log-level'))) > levels.indexOf('debug')) {
    values.set('log-level', 'debug');
    sources.set('log-level', bySelf);
  }
  values.set('log-file', '-');
  sources.set('log-file', bySelf);
}
