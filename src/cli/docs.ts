// docs/options.md and conf/gsyncd.conf, generated from the option tables. A unit test fails when
// either checked-in file differs from what this renders. Regenerate both with:
//   node --import tsx src/cli/docs.ts
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exitCodeMeaning } from '../core/errors.js';
import { describeType, formatValue } from '../options/option-values.js';
import { packageRoot } from '../options/package-info.js';
import { envVarOf, tunables, type TunableSpec } from '../options/tunables.js';
import { templateNames } from './config-file.js';
import { controlOptions } from './control-options.js';
import { aliasNote, controlFlags, tunableFlags, urlForms } from './help.js';

const regenerate = 'node --import tsx src/cli/docs.ts';
const cell = (text: string): string => text.replace(/\|/g, '\\|');
const code = (text: string): string => (text === '' ? '' : `\`${cell(text)}\``);

function status(t: TunableSpec): string {
  return t.effective ? 'yes' : `**not yet** (planned: ${t.planned})`;
}

const templateMeaning: Record<(typeof templateNames)[number], string> = {
  master: 'normalized master URL',
  slave: 'normalized slave URL (the slave root on the slave side)',
  eMaster: 'normalized master URL, escaped like Python quote_plus (safe in file names)',
  eSlave: 'normalized slave URL, escaped likewise',
  mastervol: 'gluster volume name of the master URL',
  slavevol: 'gluster volume name of the slave URL (through ssh too)',
};

export function renderOptionsDoc(): string {
  const tunableRows = tunables.map((t) =>
    `| ${code(tunableFlags(t))} | ${code(envVarOf(t.name))} | ${cell(describeType(t))} | ${code(formatValue(t.default))} | ${t.mode} | ${status(t)} | ${cell(t.help)} |`);
  const controlRows = controlOptions.filter((c) => !('hidden' in c)).map((c) =>
    `| ${code(controlFlags(c))} | ${'planned' in c ? `**not yet** (planned: ${c.planned})` : 'yes'} | ${cell(c.help)} |`);
  return [
    '# gsyncd options',
    '',
    `<!-- Generated from src/cli/options.ts and src/cli/control-options.ts by \`${regenerate}\`. Do not edit. -->`,
    '',
    'Every tunable can be given as a command-line flag, as a `GSYNCD_*` environment variable, or as a',
    'config-file key. Precedence: **flag > environment > config file > default**. `-` and `_` are',
    'interchangeable in flags and keys (`--sync_jobs` = `--sync-jobs`). An empty environment variable counts as unset.',
    'Options marked **not yet** are documented but refused (exit 64) when given, until their feature lands.',
    '',
    'Durations are seconds, fractions allowed, or a number with `ms`, `s`, `m` or `h`. Booleans accept',
    '`true/false`, `yes/no`, `on/off`, `1/0`; on the command line `--NAME` sets true and `--no-NAME` false.',
    'Relative paths are made absolute: flags and variables against the working directory, config values against the config file\'s directory.',
    '',
    '## Tunables',
    '',
    '| Option | Environment | Type | Default | Side | Effective | Description |',
    '|---|---|---|---|---|---|---|',
    ...tunableRows,
    '',
    '## Control options (command line only)',
    '',
    'Positional URLs: two (MASTER SLAVE) for a session, one with `--slave`, up to two with a config operation, any number with URL printing.',
    '',
    '| Option | Effective | Description |',
    '|---|---|---|',
    ...controlRows,
    '',
    aliasNote,
    '',
    '## URLs',
    '',
    '| Form | Meaning |',
    '|---|---|',
    ...urlForms.map(([form, meaning]) => `| ${code(form)} | ${cell(meaning)} |`),
    '',
    '## Config file',
    '',
    'Default: `conf/gsyncd.conf` in the installation (may be absent); `-c FILE` names another, which must exist.',
    'Lines are `key: value` (or `key = value`); `#` starts a comment at the beginning of a line or after',
    'whitespace (`;` too, at the beginning of a line, as in INI files); a value therefore cannot contain ` #`.',
    'Any bad line stops gsyncd with `FILE:LINE: reason` (exit 78) before anything runs.',
    '',
    'Lines before the first section are global. Sections narrow a block to some sessions:',
    '',
    '- `[peers MASTER SLAVE]`: exactly this session (URLs in any accepted form; compared normalized).',
    '- `[peersrx RX RX]`: every session whose normalized MASTER and SLAVE URLs the regular expressions find a match in (no spaces in a pattern).',
    '- `[peers SLAVE]`, `[peersrx RX]`: the same for the slave side (`--slave`), which knows one URL.',
    '',
    'Order of application: global, then matching `peersrx` sections in file order, then the `peers` section (it wins).',
    '`--config-set` and `--config-del` edit the global part, or the `[peers …]` section of the URLs given after them',
    '(created if needed); comments and other lines are kept, and the file is replaced atomically.',
    '',
    'Text values may use templates, substituted when the session\'s URLs are known (a name without a value is an',
    'error then; `--config-get` without URLs prints it verbatim):',
    '',
    '| Template | Value |',
    '|---|---|',
    ...templateNames.map((n) => `| \`\${${n}}\` | ${templateMeaning[n]} |`),
    '',
    '## Exit status',
    '',
    '| Code | Meaning |',
    '|---|---|',
    ...Object.entries(exitCodeMeaning).map(([c, m]) => `| ${c} | ${cell(m)} |`),
    '',
  ].join('\n');
}

/** conf/gsyncd.conf: every tunable commented out with its default, so the file documents itself. */
export function renderDefaultConfig(): string {
  const blocks = tunables.map((t) => {
    const status = t.effective ? '' : `not effective yet (planned: ${t.planned}): `;
    const type = t.type === 'bool' ? 'true|false' : describeType(t);
    return [`# ${status}${t.help} (${type}; ${envVarOf(t.name)})`, `#${t.name}:${t.default === '' ? '' : ` ${formatValue(t.default)}`}`, ''].join('\n');
  });
  return [
    '# gsyncd configuration. Generated from src/cli/options.ts; see docs/options.md.',
    '#',
    '# Lines are `key: value`; `-` and `_` are interchangeable in keys. Every tunable is listed below,',
    '# commented out with its default: uncomment a line, or run `gsyncd --config-set NAME VALUE`.',
    '# Precedence: command-line flag > GSYNCD_* environment variable > this file > default.',
    '#',
    '# Lines before the first section are global. Per-session sections (applied after the global',
    '# part: matching [peersrx] in file order, then the exact [peers] section):',
    '#   [peers gluster://localhost:pop ssh://geo@backup:file:///data/mirror]',
    '#   [peersrx ^gluster:// ^ssh://]',
    '# Text values may use ${master} ${slave} ${eMaster} ${eSlave} ${mastervol} ${slavevol}.',
    '',
    ...blocks,
  ].join('\n');
}

export async function writeGeneratedFiles(root = packageRoot): Promise<void> {
  await writeFile(join(root, 'docs', 'options.md'), renderOptionsDoc());
  await writeFile(join(root, 'conf', 'gsyncd.conf'), renderDefaultConfig());
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await writeGeneratedFiles();
}
