import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applicableEntries, expandTemplates, parseConfigText } from '../../../src/cli/config-file.js';
import { isGsyncdError } from '../../../src/core/errors.js';

function badLine(text: string, message: string): void {
  assert.throws(() => parseConfigText(text, '/etc/g.conf'), (err: unknown) => {
    assert.ok(isGsyncdError(err, 'GSYNCD_ERR_CONFIG'), String(err));
    assert.equal(err.message, message);
    assert.equal(err.exitCode, 78);
    return true;
  });
}

const values = (text: string, urls: string[]) =>
  applicableEntries(parseConfigText(text, 'g.conf'), urls).map((e) => `${e.name}=${String(e.value)}@${e.line}`);

describe('config file parsing', () => {
  it('reads key: value and key = value, comments, blank lines, either spelling', () => {
    const cfg = parseConfigText([
      '# a comment',
      '',
      'sync-jobs: 4',
      'log_level = DEBUG   # trailing comment',
      '  ignore-deletes: yes',
      'rsync-options: --sparse#not-a-comment',
      'ssh-command:',
    ].join('\n'), 'g.conf');
    const global = cfg.sections[0]?.entries.map((e) => [e.name, e.value, e.line]);
    assert.deepEqual(global, [
      ['sync-jobs', 4, 3],
      ['log-level', 'debug', 4],
      ['ignore-deletes', true, 5],
      ['rsync-options', '--sparse#not-a-comment', 6],
      ['ssh-command', '', 7],
    ]);
  });

  it('a bad line stops with FILE:LINE: reason', () => {
    badLine('sync-jobs: 3\nsync-job: 4', "/etc/g.conf:2: unknown key 'sync-job' (did you mean 'sync-jobs'?)");
    badLine('\n\nsync-jobs: many', "/etc/g.conf:3: bad value for sync-jobs: expected an integer from 1 to 100, got 'many'");
    badLine('sync-jobs 3', "/etc/g.conf:1: expected 'key: value', got 'sync-jobs 3'");
    badLine('[peers', '/etc/g.conf:1: section header must end with ]');
    badLine('[global]', '/etc/g.conf:1: bad section header \'[global]\' (expected [peers MASTER SLAVE], [peersrx RX RX] or their one-URL forms)');
    badLine('[peersrx ( .]', "/etc/g.conf:1: bad regular expression '(' in section header");
    badLine('[peers nonsense /b]', "/etc/g.conf:1: bad URL 'nonsense': cannot resolve sugared URL (a directory must be an absolute path)");
    badLine('log-file: /var/log/${volume}.log', '/etc/g.conf:1: unknown template ${volume} (known: ${master} ${slave} ${eMaster} ${eSlave} ${mastervol} ${slavevol})');
    badLine('sync-jobs: ${mastervol}', '/etc/g.conf:1: bad value for sync-jobs: expected an integer from 1 to 100, got \'${mastervol}\'');
  });

  it('upstream primary/secondary keys are unknown, with a hint', () => {
    badLine('secondary-timeout: 5', "/etc/g.conf:1: unknown key 'secondary-timeout' (did you mean 'slave-timeout'?)");
  });
});

describe('config sections', () => {
  const text = [
    'sync-jobs: 1',                                   // 1
    '[peers :pop /data/mirror]',                      // 2: exact, written first but applied last
    'sync-jobs: 5',                                   // 3
    '[peersrx ^gluster:// ^file://]',                 // 4
    'sync-jobs: 2',                                   // 5
    'turns: 7',                                       // 6
    '[peersrx pop mirror]  # trailing comment',       // 7
    'sync-jobs: 3',                                   // 8
    '[peersrx nomatch .]',                            // 9
    'sync-jobs: 99',                                  // 10
    '[peers /data/mirror]',                           // 11: slave side
    'sync-jobs: 50',                                  // 12
  ].join('\n');
  const session = ['gluster://localhost:pop', 'file:///data/mirror'];

  it('apply global, then matching peersrx in file order, then the exact peers section', () => {
    assert.deepEqual(values(text, session), ['sync-jobs=1@1', 'sync-jobs=2@5', 'turns=7@6', 'sync-jobs=3@8', 'sync-jobs=5@3']);
  });

  it('one-URL sections are for the slave side only; no URLs means global only', () => {
    assert.deepEqual(values(text, ['file:///data/mirror']), ['sync-jobs=1@1', 'sync-jobs=50@12']);
    assert.deepEqual(values(text, []), ['sync-jobs=1@1']);
    assert.deepEqual(values(text, ['gluster://localhost:other', 'file:///elsewhere']), ['sync-jobs=1@1', 'sync-jobs=2@5', 'turns=7@6']);
  });
});

describe('templates', () => {
  it('substitute known names; unknown ones fail, or stay verbatim when printing', () => {
    const vars = { mastervol: 'pop', eSlave: 'file%3A%2F%2F%2Fx' };
    assert.equal(expandTemplates('/log/${mastervol}/${eSlave}.log', vars, false), '/log/pop/file%3A%2F%2F%2Fx.log');
    assert.throws(() => expandTemplates('${slavevol}', vars, false), /template \$\{slavevol\} has no value/);
    assert.equal(expandTemplates('${slavevol}', vars, true), '${slavevol}');
  });
});
