import assert from 'node:assert/strict';
import { readdir, readFile, symlink, writeFile, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { applyConfigEdit, editConfigFile } from '../../../src/cli/config-edit.js';
import { parseConfigText, applicableEntries } from '../../../src/cli/config-file.js';
import { isGsyncdError } from '../../../src/core/errors.js';
import { runCli, withTempDir } from './harness.js';

const original = [
  '# site settings, keep me',
  '#sync-jobs: 3',
  'log-level: info   # chatty enough',
  '',
  '[peers gluster://localhost:pop file:///data/mirror]',
  '# session comment',
  'turns: 2',
  '',
].join('\n');
const session = ['gluster://localhost:pop', 'file:///data/mirror'];

describe('config editing (pure)', () => {
  it('set in the global part goes after the commented default and keeps every other line', () => {
    const next = applyConfigEdit(original, { op: 'set', name: 'sync_jobs', value: '6' }, [], 'f');
    assert.equal(next, original.replace('#sync-jobs: 3\n', '#sync-jobs: 3\nsync-jobs: 6\n'));
  });

  it('set replaces an existing key in place and drops its duplicates in that section only', () => {
    const text = 'turns: 1\nlog-level: info\nturns: 4\n[peers :a /b]\nturns: 9\n';
    assert.equal(applyConfigEdit(text, { op: 'set', name: 'turns', value: '5' }, [], 'f'),
      'turns: 5\nlog-level: info\n[peers :a /b]\nturns: 9\n');
  });

  it('del removes the key from the chosen section only', () => {
    const next = applyConfigEdit(original, { op: 'del', name: 'turns' }, session, 'f');
    assert.equal(next, original.replace('turns: 2\n', ''));
    assert.equal(applyConfigEdit(original, { op: 'del', name: 'turns' }, [], 'f'), original, 'no global turns: unchanged');
  });

  it('with URLs, set edits that [peers] section, or appends a new one', () => {
    const inSession = applyConfigEdit(original, { op: 'set', name: 'sync-jobs', value: '8' }, session, 'f');
    assert.equal(inSession, original.replace('turns: 2\n', 'turns: 2\nsync-jobs: 8\n'));
    const other = ['gluster://localhost:zip', 'file:///zap'];
    const added = applyConfigEdit(original, { op: 'set', name: 'once', value: 'true' }, other, 'f');
    assert.equal(added, `${original}\n[peers gluster://localhost:zip file:///zap]\nonce: true\n`);
    assert.deepEqual(applicableEntries(parseConfigText(added, 'f'), other).map((e) => e.name), ['log-level', 'once']);
  });

  it('refuses bad names and values before writing anything', () => {
    const refusal = (name: string, value: string, code: string, message: RegExp) =>
      assert.throws(() => applyConfigEdit(original, { op: 'set', name, value }, [], 'f'), (err: unknown) =>
        isGsyncdError(err) && err.code === code && message.test(err.message) && err.exitCode === 64);
    refusal('sync-jobs', 'many', 'GSYNCD_ERR_BAD_OPTION_VALUE', /^bad value for sync-jobs: expected an integer/);
    refusal('sync-job', '3', 'GSYNCD_ERR_USAGE', /unknown tunable 'sync-job' \(did you mean 'sync-jobs'\?\)/);
    refusal('secondary-timeout', '3', 'GSYNCD_ERR_USAGE', /did you mean 'slave-timeout'/);
    refusal('ssh-command', 'ssh # x', 'GSYNCD_ERR_BAD_OPTION_VALUE', /' #' would start a comment/);
    refusal('ssh-command', 'ssh\nsync-jobs: 1', 'GSYNCD_ERR_BAD_OPTION_VALUE', /line breaks/);
    refusal('special-sync-mode', 'blind', 'GSYNCD_ERR_NOT_YET_EFFECTIVE', /special-sync-mode is not effective yet in this version \(planned: failover\)/);
  });

  it('refuses to edit a file with a broken line (78, FILE:LINE)', () => {
    assert.throws(() => applyConfigEdit('ok: no\nbroken line\n', { op: 'del', name: 'turns' }, [], '/x.conf'),
      (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_CONFIG') && err.message === "/x.conf:2: expected 'key: value', got 'broken line'");
  });
});

describe('--config-set / --config-del on disk', () => {
  it('edits atomically, keeps comments, leaves no temp file', () => withTempDir(async (dir) => {
    const file = join(dir, 'gsyncd.conf');
    await writeFile(file, original);
    const set = await runCli(['-c', file, '--config-set', 'sync-jobs', '6']);
    assert.deepEqual([set.code, set.stderr], [0, '']);
    assert.equal(await readFile(file, 'utf8'), original.replace('#sync-jobs: 3\n', '#sync-jobs: 3\nsync-jobs: 6\n'));
    assert.equal((await runCli(['-c', file, '--config-get', 'sync-jobs'])).stdout, '6\n');
    const del = await runCli(['-c', file, '--config-del', 'sync-jobs']);
    assert.equal(del.code, 0);
    assert.equal(await readFile(file, 'utf8'), original);
    assert.deepEqual(await readdir(dir), ['gsyncd.conf']);
  }));

  it('a bad value leaves the file untouched', () => withTempDir(async (dir) => {
    const file = join(dir, 'gsyncd.conf');
    await writeFile(file, original);
    const r = await runCli(['-c', file, '--config-set', 'sync-jobs', '1000']);
    assert.equal(r.code, 64);
    assert.equal(r.stderr, "gsyncd: bad value for sync-jobs: expected an integer from 1 to 100, got '1000'\n");
    assert.equal(await readFile(file, 'utf8'), original);
    assert.deepEqual(await readdir(dir), ['gsyncd.conf']);
  }));

  it('with MASTER SLAVE, writes the [peers] section; creates a missing file', () => withTempDir(async (dir) => {
    const file = join(dir, 'new.conf');
    const r = await runCli(['-c', file, '--config-set', 'turns', '3', ':pop', '/data/mirror']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await readFile(file, 'utf8'), '[peers gluster://localhost:pop file:///data/mirror]\nturns: 3\n');
    assert.equal((await runCli(['-c', file, '--config-get', 'turns'])).stdout, '0\n', 'global value unchanged');
    assert.equal((await runCli(['-c', file, '--config-get', 'turns', ':pop', '/data/mirror'])).stdout, '3\n');
  }));

  it('edits the file a symlink points to, keeping the link', () => withTempDir(async (dir) => {
    await writeFile(join(dir, 'real.conf'), 'turns: 1\n');
    await symlink('real.conf', join(dir, 'link.conf'));
    await editConfigFile(join(dir, 'link.conf'), { op: 'set', name: 'turns', value: '2' }, []);
    assert.ok((await lstat(join(dir, 'link.conf'))).isSymbolicLink());
    assert.equal(await readFile(join(dir, 'real.conf'), 'utf8'), 'turns: 2\n');
  }));
});
