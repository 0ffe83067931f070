// --help, generated from the two option tables and the exit-code table.
import { exitCodeMeaning } from '../core/errors.js';
import { describeType, formatValue } from '../options/option-values.js';
import { tunables, type TunableSpec } from '../options/tunables.js';
import { controlOptions, type ControlSpec } from './control-options.js';
import { statusUsage } from './status-args.js';

/** URL forms of the original README, shared with docs/options.md. */
export const urlForms: readonly (readonly [string, string])[] = [
  ['gluster://HOST:VOL, HOST:VOL', 'GlusterFS volume VOL served by HOST'],
  [':VOL', 'GlusterFS volume VOL on this host'],
  ['file:///PATH, /PATH', 'local directory (master or slave)'],
  ['ssh://[USER@]HOST[:PORT]:URL', 'URL as seen on another machine, reached by ssh'],
  ['[USER@]HOST:/PATH', 'directory on HOST, reached by ssh'],
  ['[USER@]HOST::VOL', 'GlusterFS volume VOL on HOST, reached by ssh'],
];

export const aliasNote =
  "Names with master/slave also accept primary/secondary on the command line (e.g. --secondary-timeout, --secondary); config keys and GSYNCD_* variables do not.";

export function tunableFlags(t: TunableSpec): string {
  const short = t.short === undefined ? '' : `-${t.short}, `;
  if (t.type === 'bool') return `${short}--${t.default === true ? '[no-]' : ''}${t.name}`;
  return `${short}--${t.name} ${metavarOf(t)}`;
}

export function controlFlags(c: ControlSpec): string {
  const short = c.short === undefined ? '' : `-${c.short}, `;
  return `${short}--${c.name}${c.metavar === undefined ? '' : ` ${c.metavar}`}`;
}

function metavarOf(t: TunableSpec): string {
  if (t.metavar !== undefined) return t.metavar;
  switch (t.type) {
    case 'int': return 'N';
    case 'float': return 'NUM';
    case 'duration-seconds': return 'SECONDS';
    case 'enum': return (t.choices ?? []).join('|');
    default: return 'VALUE';
  }
}

/** `derived`: the value an empty default stands for on this machine (shown in --help, not in the generated docs). */
export function tunableHelp(t: TunableSpec, derived?: string): string {
  const kind = t.type === 'int' || t.type === 'float' || t.type === 'duration-seconds' ? ` (${describeType(t)})` : '';
  const shown = t.default === '' && derived !== undefined ? derived : t.default;
  const dflt = shown === '' || shown === false ? '' : ` [default: ${formatValue(shown)}]`;
  const status = t.effective ? '' : ` [not effective yet; planned: ${t.planned}]`;
  return `${t.help}${kind}${dflt}${status}`;
}

function rows(pairs: readonly (readonly [string, string])[], width = 34): string[] {
  return pairs.map(([left, right]) =>
    left.length + 2 <= width ? `  ${left.padEnd(width - 2)}${right}` : `  ${left}\n  ${' '.repeat(width - 2)}${right}`);
}

export function renderHelp(derivedDefaults: Readonly<Record<string, string>> = {}): string {
  const control = controlOptions.filter((c) => !('hidden' in c))
    .map((c) => [controlFlags(c), 'planned' in c ? `${c.help} [not effective yet; planned: ${c.planned}]` : c.help] as const);
  const tunable = tunables.map((t) => [tunableFlags(t), tunableHelp(t, derivedDefaults[t.name])] as const);
  const exits = Object.entries(exitCodeMeaning).map(([code, meaning]) => [code, meaning] as const);
  return [
    'Usage: gsyncd [OPTIONS] MASTER SLAVE',
    '       gsyncd --slave [OPTIONS] SLAVE-ROOT',
    '       gsyncd --config-get NAME | --config-get-all | --config-set NAME VALUE | --config-del NAME | --config-check NAME [MASTER SLAVE]',
    '       gsyncd --normalize-url | --canonicalize-url | --canonicalize-escape-url URL...',
    `       ${statusUsage}  (verdict; exit 0/1/2/3)`,
    '       gsyncd slave-agent ROOT [--sshd-port N] [--http-bind ADDR] ...  (slave host: sshd + metrics)',
    '       gsyncd --dispatch --root DIR [--allow-volume VOL] [--allow-tar] (authorized_keys forced command)',
    '       gsyncd healthcheck [URL]                                       (exit 0 on a 2xx answer)',
    '',
    'Mirror the MASTER tree (a GlusterFS volume or a directory) to the SLAVE, continuously.',
    '',
    'URLs:',
    ...rows(urlForms),
    '',
    'Control options:',
    ...rows(control),
    '',
    'Tunables (flag > GSYNCD_<NAME> environment variable > config file > default):',
    ...rows(tunable),
    '',
    "'-' and '_' are interchangeable in option names and config keys.",
    aliasNote,
    '',
    'Exit status:',
    ...rows(exits, 6),
    '',
  ].join('\n');
}
