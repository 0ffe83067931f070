// `--help` says "[not effective yet …]" exactly for the options no code reads. An option the code
// reads but the table calls planned misleads the user (its setting is refused although it
// works); one the table calls effective but nothing reads is silently ignored.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { renderHelp, tunableFlags } from '../../../src/cli/help.js';
import { tunables } from '../../../src/options/tunables.js';

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src');
const table = path.join(src, 'options/tunables.ts');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return sources(p);
    return d.name.endsWith('.ts') && p !== table ? [p] : [];
  });
}

/** Every source file but the table itself: where an option is read by its name. */
const code = sources(src).map((f) => fs.readFileSync(f, 'utf8')).join('\n');

/** Options are read as opts.get('name') (or sourceOf, where the source matters). */
function readByCode(name: string): boolean {
  return code.includes(`get('${name}')`) || code.includes(`sourceOf('${name}')`);
}

/** The --help line (or lines) of a tunable, from its flags to the next option. */
function helpOf(help: string, flags: string): string {
  const start = help.search(new RegExp(`\\n {2}${flags.replace(/[|.*+?()[\]{}^$\\]/g, '\\$&')}[ \\n]`)) + 1;
  assert.ok(start > 0, `--help lists ${flags}`);
  const next = help.slice(start + 1).search(/\n {2}-/);
  return next < 0 ? help.slice(start) : help.slice(start, start + 1 + next);
}

describe('--help marks "not effective" exactly the options no code reads', () => {
  const help = renderHelp();
  for (const t of tunables) {
    it(t.name, () => {
      const line = helpOf(help, tunableFlags(t));
      if (t.effective) {
        assert.ok(readByCode(t.name), `${t.name} is marked effective but no code outside the table reads it`);
        assert.doesNotMatch(line, /not effective/, `${t.name}: --help calls an effective option not effective`);
      } else {
        assert.ok(!readByCode(t.name), `${t.name} is read by the code: mark it effective in src/options/tunables.ts`);
        assert.match(line, /\[not effective yet; planned: /);
      }
    });
  }
});
