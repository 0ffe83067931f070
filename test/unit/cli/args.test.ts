import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgs } from '../../../src/cli/args.js';
import { isGsyncdError, type ErrorCode } from '../../../src/core/errors.js';

function refused(argv: string[], code: ErrorCode, message: RegExp | string): void {
  assert.throws(() => parseArgs(argv), (err: unknown) => {
    assert.ok(isGsyncdError(err, code), `expected ${code}, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    assert.equal(err.exitCode, 64);
    return true;
  });
}

describe('argument parsing', () => {
  it('a session takes MASTER and SLAVE and any tunables', () => {
    const a = parseArgs(['--sync-jobs', '4', ':pop', '-L', 'debug', '/data/mirror']);
    assert.deepEqual(a.action, { kind: 'session' });
    assert.deepEqual(a.positionals, [':pop', '/data/mirror']);
    assert.deepEqual(a.tunables.get('sync-jobs'), { value: '4', flag: '--sync-jobs' });
    assert.deepEqual(a.tunables.get('log-level'), { value: 'debug', flag: '--log-level' });
  });

  it('unknown options name the closest valid one', () => {
    refused(['--sync-job', '3', ':a', '/b'], 'GSYNCD_ERR_UNKNOWN_OPTION', "unknown option '--sync-job' (did you mean '--sync-jobs'?)");
    refused(['--frobnicate'], 'GSYNCD_ERR_UNKNOWN_OPTION', "unknown option '--frobnicate'");
    refused(['-x'], 'GSYNCD_ERR_UNKNOWN_OPTION', "unknown option '-x'");
    refused(['--once=yes', ':a', '/b'], 'GSYNCD_ERR_USAGE', "option '--once' does not take a value");
  });

  it('dashes and underscores are interchangeable; =value and -Lvalue work', () => {
    const a = parseArgs(['--sync_jobs=5', '-Ldebug', '--ignore_deletes', ':a', '/b']);
    assert.equal(a.tunables.get('sync-jobs')?.value, '5');
    assert.equal(a.tunables.get('log-level')?.value, 'debug');
    assert.equal(a.tunables.get('ignore-deletes')?.value, true);
  });

  it('bad values are refused in one line', () => {
    refused(['--sync-jobs', 'lots', ':a', '/b'], 'GSYNCD_ERR_BAD_OPTION_VALUE', "bad value for --sync-jobs: expected an integer from 1 to 100, got 'lots'");
    refused(['--sync-jobs', '0', ':a', '/b'], 'GSYNCD_ERR_BAD_OPTION_VALUE', /from 1 to 100/);
    refused(['-L', 'loud', ':a', '/b'], 'GSYNCD_ERR_BAD_OPTION_VALUE', /^bad value for --log-level: expected one of trace/);
    refused(['--sync-jobs'], 'GSYNCD_ERR_USAGE', /argument missing/);
  });

  it('a value may start with a dash, as optparse allowed', () => {
    const a = parseArgs(['--rsync-options', '--sparse --inplace', ':a', '/b']);
    assert.equal(a.tunables.get('rsync-options')?.value, '--sparse --inplace');
  });

  it('booleans have --no- forms', () => {
    assert.equal(parseArgs(['--no-sync-xattrs', ':a', '/b']).tunables.get('sync-xattrs')?.value, false);
  });

  it('primary/secondary aliases and --listen reach the canonical names', () => {
    const a = parseArgs(['--secondary-timeout', '30', '--secondary', '/root']);
    assert.deepEqual(a.tunables.get('slave-timeout'), { value: '30', flag: '--secondary-timeout' });
    assert.deepEqual(a.action, { kind: 'slave' });
    assert.deepEqual(parseArgs(['--listen', '/root']).action, { kind: 'slave' });
  });

  it('positional counts follow the original', () => {
    refused([':a'], 'GSYNCD_ERR_USAGE', /incorrect number of arguments: expected MASTER and SLAVE URLs, got 1/);
    refused(['--slave', '/a', '/b'], 'GSYNCD_ERR_USAGE', /expected one URL/);
    refused(['--config-get-all', ':a', '/b', '/c'], 'GSYNCD_ERR_USAGE', /at most MASTER and SLAVE/);
    assert.deepEqual(parseArgs(['--config-get-all']).action, { kind: 'config', op: { op: 'get-all' } });
    assert.equal(parseArgs(['--normalize-url', ':a', ':b', ':c', '/d']).positionals.length, 4);
    assert.deepEqual(parseArgs(['--help', 'whatever']).action, { kind: 'help' });
  });

  it('--config-set takes NAME and VALUE, VALUE may look like an option', () => {
    assert.deepEqual(parseArgs(['--config-set', 'rsync-options', '--inplace', ':a', '/b']).action,
      { kind: 'config', op: { op: 'set', name: 'rsync-options', value: '--inplace' } });
    assert.deepEqual(parseArgs([':a', '/b', '--config-set=sync-jobs', '9']).action,
      { kind: 'config', op: { op: 'set', name: 'sync-jobs', value: '9' } });
    refused(['--config-set', 'sync-jobs'], 'GSYNCD_ERR_USAGE', '--config-set needs NAME and VALUE');
  });

  it('one action at a time; -- ends the options', () => {
    refused(['--config-get-all', '--normalize-url'], 'GSYNCD_ERR_USAGE', '--config-get-all cannot be combined with --normalize-url');
    assert.deepEqual(parseArgs(['--normalize-url', '--', '-weird']).positionals, ['-weird']);
  });

  it('control settings are reported', () => {
    const a = parseArgs(['-c', 'my.conf', '-N', '--debug', ':a', '/b']);
    assert.equal(a.configFile, 'my.conf');
    assert.equal(a.noDaemon, true);
    assert.equal(a.debug, true);
  });

  it('--monitor is accepted (the monitor runs every continuous session)', () => {
    assert.equal(parseArgs(['--monitor', ':a', '/b']).monitor, true);
    assert.equal(parseArgs([':a', '/b']).monitor, false);
  });
});
