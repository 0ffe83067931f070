import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { applicableEntries, parseConfigText } from '../../../src/cli/config-file.js';
import { renderDefaultConfig, renderOptionsDoc } from '../../../src/cli/docs.js';
import { packageRoot } from '../../../src/options/package-info.js';
import { envVarOf, tunables } from '../../../src/options/tunables.js';
import { runCli, withTempDir } from './harness.js';

const regenerate = 'regenerate with: node --import tsx src/cli/docs.ts';

describe('generated files', () => {
  it('docs/options.md matches the options table', async () => {
    assert.equal(await readFile(join(packageRoot, 'docs', 'options.md'), 'utf8'), renderOptionsDoc(), regenerate);
  });

  it('conf/gsyncd.conf matches the options table', async () => {
    assert.equal(await readFile(join(packageRoot, 'conf', 'gsyncd.conf'), 'utf8'), renderDefaultConfig(), regenerate);
  });

  it('the shipped config sets nothing, and every line uncommented gives back the defaults', () => {
    const text = renderDefaultConfig();
    assert.deepEqual(applicableEntries(parseConfigText(text, 'c'), []), []);
    const uncommented = text.split('\n').map((l) => l.replace(/^#(?=[a-z-]+:)/, '')).join('\n');
    const entries = applicableEntries(parseConfigText(uncommented, 'c'), []);
    assert.deepEqual(entries.map((e) => [e.name, e.value]), tunables.map((t) => [t.name, t.default]));
  });

  it('the doc marks every not-yet-effective option', () => {
    const doc = renderOptionsDoc();
    for (const t of tunables) {
      const row = doc.split('\n').find((l) => l.includes(`| \`${envVarOf(t.name)}\` |`));
      assert.ok(row, t.name);
      assert.equal(row.includes('**not yet**'), !t.effective, t.name);
    }
  });

  it('--gen-docs and --gen-conf write the same text', () => withTempDir(async (dir) => {
    assert.equal((await runCli(['--gen-docs', 'o.md'], { cwd: dir })).code, 0);
    assert.equal((await runCli(['--gen-conf', 'g.conf'], { cwd: dir })).code, 0);
    assert.equal(await readFile(join(dir, 'o.md'), 'utf8'), renderOptionsDoc());
    assert.equal(await readFile(join(dir, 'g.conf'), 'utf8'), renderDefaultConfig());
  }));
});
