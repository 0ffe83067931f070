// Command line → what to do, which tunables were given, and the URL positionals.
//
// commander does the tokenizing (`--opt=v`, `-Lv`, `-NL v`, `--`, a required value is taken even
// when it starts with '-', as optparse did for `--rsync-options --sparse`). We call its
// parseOptions() directly rather than parse(): we want the first unknown option back to word the
// error ourselves, and help, version and values are ours (they come from the tables). We listen
// to the per-option events instead of reading opts() so every spelling of a name lands on one
// canonical name, in command-line order.
import { Command, CommanderError, Option } from 'commander';
import { gsyncdError } from '../core/errors.js';
import { parseTunableValue } from '../options/option-values.js';
import { findTunable, tunables, type TunableName } from '../options/tunables.js';
import { configOpNames, controlOptions, urlPrintNames, type ControlName } from './control-options.js';
import type { FlagValue } from './resolve.js';
import { didYouMean } from './suggest.js';

export type ConfigOp =
  | { readonly op: 'get'; readonly name: string }
  | { readonly op: 'get-all' }
  | { readonly op: 'set'; readonly name: string; readonly value: string }
  | { readonly op: 'del'; readonly name: string }
  | { readonly op: 'check'; readonly name: string };
export type UrlForm = 'normalize' | 'canonicalize' | 'canonicalize-escape';
export type Action =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'gen-docs' | 'gen-conf'; readonly file: string }
  | { readonly kind: 'print-urls'; readonly form: UrlForm }
  | { readonly kind: 'config'; readonly op: ConfigOp }
  | { readonly kind: 'slave' }
  | { readonly kind: 'session' };

export interface ParsedArgs {
  readonly action: Action;
  readonly tunables: ReadonlyMap<TunableName, FlagValue>;
  readonly configFile: string | undefined;
  readonly noDaemon: boolean;
  /** --monitor: the monitor runs anyway without --once/--turns; with them it is a usage error. */
  readonly monitor: boolean;
  readonly debug: boolean;
  readonly slave: boolean;
  readonly positionals: readonly string[];
}

type Target = { readonly kind: 'tunable'; readonly name: TunableName; readonly negated: boolean } | { readonly kind: 'control'; readonly name: ControlName | 'config-set-value' };

/** Every accepted long spelling (dashed, underscored, aliases) → what it sets. */
function spellings(): Map<string, Target> {
  const out = new Map<string, Target>();
  const add = (name: string, target: Target): void => {
    out.set(name, target);
    out.set(name.replace(/-/g, '_'), target);
  };
  for (const t of tunables) {
    for (const name of [t.name, ...('aliases' in t ? t.aliases : [])]) {
      add(name, { kind: 'tunable', name: t.name, negated: false });
      if (t.type === 'bool') add(`no-${name}`, { kind: 'tunable', name: t.name, negated: true });
    }
  }
  for (const c of controlOptions) {
    for (const name of [c.name, ...('aliases' in c ? c.aliases : [])]) add(name, { kind: 'control', name: c.name });
  }
  add('config-set-value', { kind: 'control', name: 'config-set-value' });
  return out;
}

/** Long spellings shown in did-you-mean hints: canonical names only, never hidden ones. */
export function suggestableFlags(): string[] {
  return [...tunables.map((t) => t.name), ...controlOptions.filter((c) => !('hidden' in c)).map((c) => c.name)];
}

function takesValue(target: Target): boolean {
  if (target.kind === 'tunable') return !target.negated && tunables.find((t) => t.name === target.name)?.type !== 'bool';
  if (target.name === 'config-set-value') return true;
  return (controlOptions.find((c) => c.name === target.name)?.arity ?? 0) > 0;
}

/**
 * `--config-set NAME VALUE` takes two values (optparse nargs=2); commander options take one, so
 * the second is handed over as a hidden `--config-set-value VALUE`.
 */
function splitConfigSet(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const isSet = /^--config[-_]set(=|$)/.test(arg);
    if (!isSet) {
      out.push(arg);
      continue;
    }
    const inlineName = arg.includes('=');
    const needed = inlineName ? 1 : 2;
    if (i + needed >= argv.length) throw gsyncdError('GSYNCD_ERR_USAGE', '--config-set needs NAME and VALUE');
    if (inlineName) out.push(arg, '--config-set-value', argv[i + 1] ?? '');
    else out.push(arg, argv[i + 1] ?? '', '--config-set-value', argv[i + 2] ?? '');
    i += needed;
  }
  return out;
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const targets = spellings();
  const program = new Command('gsyncd').helpOption(false).exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
  const given = new Map<TunableName, FlagValue>();
  const control = new Map<string, string | true>();
  for (const [spelling, target] of targets) {
    const short = shortFlag(spelling);
    program.addOption(new Option(`${short === undefined ? '' : `-${short}, `}--${spelling}${takesValue(target) ? ' <value>' : ''}`));
    program.on(`option:${spelling}`, (value: string | undefined) => {
      if (target.kind === 'control') control.set(target.name, value ?? true);
      else given.set(target.name, { value: target.negated ? false : (value ?? true), flag: `--${spelling}` });
    });
  }

  let operands: string[];
  try {
    const result = program.parseOptions(splitConfigSet(argv));
    const unknown = result.unknown.find((a) => a.startsWith('-'));
    if (unknown !== undefined) throw unknownOption(unknown, targets);
    operands = [...result.operands, ...result.unknown];
  } catch (err) {
    if (err instanceof CommanderError) throw gsyncdError('GSYNCD_ERR_USAGE', err.message.replace(/^error: /, ''));
    throw err;
  }
  for (const c of controlOptions) {
    if ('planned' in c && control.has(c.name)) {
      throw gsyncdError('GSYNCD_ERR_NOT_YET_EFFECTIVE', `--${c.name} is not effective yet in this version (planned: ${c.planned})`);
    }
  }
  // Values are checked here too, so a typo is reported before URL or config-file problems.
  for (const [name, flag] of given) {
    const spec = findTunable(name);
    const parsed = spec === undefined ? undefined : parseTunableValue(spec, flag.value);
    if (parsed !== undefined && 'problem' in parsed) {
      throw gsyncdError('GSYNCD_ERR_BAD_OPTION_VALUE', `bad value for ${flag.flag}: ${parsed.problem}`);
    }
  }
  const slave = control.has('slave');
  const action = chooseAction(control, slave);
  checkPositionalCount(action, operands.length);
  const configFile = control.get('config-file');
  return {
    action,
    tunables: given,
    configFile: typeof configFile === 'string' ? configFile : undefined,
    noDaemon: control.has('no-daemon'),
    monitor: control.has('monitor'),
    debug: control.has('debug'),
    slave,
    positionals: operands,
  };
}

/** Short letters belong to the canonical spelling only. */
function shortFlag(spelling: string): string | undefined {
  const spec = [...tunables, ...controlOptions].find((x) => x.name === spelling);
  return spec !== undefined && 'short' in spec ? spec.short : undefined;
}

function unknownOption(arg: string, targets: Map<string, Target>): Error {
  const [flag = arg, inline] = arg.split(/=(.*)/s, 2);
  const known = targets.get(flag.replace(/^--/, ''));
  if (known !== undefined && inline !== undefined) return gsyncdError('GSYNCD_ERR_USAGE', `option '${flag}' does not take a value`);
  const hint = flag.startsWith('--') ? didYouMean(flag.slice(2), suggestableFlags(), (n) => `--${n}`) : '';
  return gsyncdError('GSYNCD_ERR_UNKNOWN_OPTION', `unknown option '${flag}'${hint}`);
}

function chooseAction(control: ReadonlyMap<string, string | true>, slave: boolean): Action {
  if (control.has('help')) return { kind: 'help' };
  if (control.has('version')) return { kind: 'version' };
  const chosen = [...configOpNames, ...urlPrintNames, 'gen-docs', 'gen-conf'].filter((n) => control.has(n));
  if (chosen.length > 1) throw gsyncdError('GSYNCD_ERR_USAGE', `--${chosen[0]} cannot be combined with --${chosen[1]}`);
  const name = chosen[0];
  const value = (key: string): string => String(control.get(key) ?? '');
  switch (name) {
    case undefined: return slave ? { kind: 'slave' } : { kind: 'session' };
    case 'gen-docs':
    case 'gen-conf': return { kind: name, file: value(name) };
    case 'normalize-url': return { kind: 'print-urls', form: 'normalize' };
    case 'canonicalize-url': return { kind: 'print-urls', form: 'canonicalize' };
    case 'canonicalize-escape-url': return { kind: 'print-urls', form: 'canonicalize-escape' };
    case 'config-get': return { kind: 'config', op: { op: 'get', name: value(name) } };
    case 'config-get-all': return { kind: 'config', op: { op: 'get-all' } };
    case 'config-set': return { kind: 'config', op: { op: 'set', name: value(name), value: value('config-set-value') } };
    case 'config-del': return { kind: 'config', op: { op: 'del', name: value(name) } };
    case 'config-check': return { kind: 'config', op: { op: 'check', name: value(name) } };
    default: throw gsyncdError('GSYNCD_ERR_INTERNAL', `unhandled control option --${name}`);
  }
}

/** Counts as in the original: 2 for a session, 1 with --slave, 0..2 for config ops, any for URL printing. */
function checkPositionalCount(action: Action, count: number): void {
  const fail = (expected: string): never => {
    throw gsyncdError('GSYNCD_ERR_USAGE', `incorrect number of arguments: expected ${expected}, got ${count} (see --help)`);
  };
  if (action.kind === 'session' && count !== 2) fail('MASTER and SLAVE URLs');
  if (action.kind === 'slave' && count !== 1) fail('one URL (the slave root) with --slave');
  if (action.kind === 'config' && count > 2) fail('at most MASTER and SLAVE URLs with a config operation');
}
