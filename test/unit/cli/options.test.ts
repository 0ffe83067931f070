import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { controlOptions } from '../../../src/cli/control-options.js';
import { closestName, levenshtein } from '../../../src/cli/suggest.js';
import { formatValue, parseTunableValue } from '../../../src/options/option-values.js';
import { camelCaseOf, defaultOptions, envVarOf, findTunable, tunables } from '../../../src/options/tunables.js';

const spec = (name: string) => {
  const t = findTunable(name);
  assert.ok(t, name);
  return t;
};
const value = (name: string, raw: string | boolean) => parseTunableValue(spec(name), raw);

describe('options table', () => {
  it('names are canonical, unique and not shared with control options', () => {
    const names = [...tunables.map((t) => t.name), ...controlOptions.map((c) => c.name)];
    assert.equal(new Set(names).size, names.length);
    for (const t of tunables) assert.match(t.name, /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
  });

  it('short flags are unique', () => {
    const shorts = [...tunables, ...controlOptions].flatMap((o) => ('short' in o ? [o.short] : []));
    assert.equal(new Set(shorts).size, shorts.length);
  });

  it('every not-effective tunable names the area that will implement it', () => {
    for (const t of tunables) {
      if (!t.effective) assert.ok(t.planned, t.name);
      assert.ok(t.help.length > 10, `${t.name} has help`);
    }
  });

  it('every master/slave name has a primary/secondary alias (CLI only)', () => {
    for (const o of [...tunables, ...controlOptions]) {
      if (!/master|slave/.test(o.name)) continue;
      const upstream = o.name.replace('master', 'primary').replace('slave', 'secondary');
      assert.ok('aliases' in o && (o.aliases as readonly string[]).includes(upstream), `${o.name} lacks alias ${upstream}`);
      assert.equal(findTunable(upstream), undefined, 'an alias is never a config key');
    }
  });

  it('every default is a valid value of its own type', () => {
    for (const t of tunables) {
      assert.deepEqual(parseTunableValue(t, formatValue(t.default)), { value: t.default }, t.name);
    }
  });

  it('the options object has every tunable as a camelCase property, and get()', () => {
    const opts = defaultOptions({ 'sync-jobs': 7 });
    assert.equal(opts.syncJobs, 7);
    assert.equal(opts.get('sync-jobs'), 7);
    assert.equal(opts.changeInterval, 0.5);
    assert.deepEqual(opts.sourceOf('sync-jobs'), { from: 'flag', flag: '--sync-jobs' });
    assert.deepEqual(opts.sourceOf('log-level'), { from: 'default' });
    for (const t of tunables) assert.ok(camelCaseOf(t.name) in opts, t.name);
    assert.equal(envVarOf('sync-jobs'), 'GSYNCD_SYNC_JOBS');
  });
});

describe('option values', () => {
  it('integers respect the range', () => {
    assert.deepEqual(value('sync-jobs', '4'), { value: 4 });
    assert.deepEqual(value('sync-jobs', '0'), { problem: "expected an integer from 1 to 100, got '0'" });
    assert.ok('problem' in value('sync-jobs', '101'));
    assert.ok('problem' in value('sync-jobs', '3.5'));
    assert.ok('problem' in value('sync-jobs', ''));
  });

  it('any integer in range is accepted, any outside refused', () => {
    fc.assert(fc.property(fc.integer({ min: -1000, max: 1000 }), (n) => {
      const ok = 'value' in value('sync-jobs', String(n));
      assert.equal(ok, n >= 1 && n <= 100);
    }));
  });

  it('durations are seconds, sub-second allowed, with optional units', () => {
    assert.deepEqual(value('change-interval', '0.25'), { value: 0.25 });
    assert.deepEqual(value('change-interval', '500ms'), { value: 0.5 });
    assert.deepEqual(value('timeout', '2m'), { value: 120 });
    assert.deepEqual(value('timeout', '1h'), { value: 3600 });
    assert.ok('problem' in value('timeout', '-1'));
    assert.ok('problem' in value('timeout', 'soon'));
  });

  it('enums are case-insensitive and stored in the table spelling', () => {
    assert.deepEqual(value('log-level', 'DEBUG'), { value: 'debug' });
    assert.deepEqual(value('gluster-log-level', 'warning'), { value: 'WARNING' });
    assert.deepEqual(value('log-level', 'verbose'), { problem: "expected one of trace, debug, info, warn, error, fatal, got 'verbose'" });
  });

  it('booleans take the usual words; a bare flag is true', () => {
    for (const w of ['true', 'yes', 'on', '1', 'TRUE']) assert.deepEqual(value('once', w), { value: true });
    for (const w of ['false', 'no', 'off', '0']) assert.deepEqual(value('once', w), { value: false });
    assert.deepEqual(value('once', true), { value: true });
    assert.ok('problem' in value('once', 'maybe'));
    assert.ok('problem' in value('sync-jobs', true), 'a bare flag is not a number');
  });

  it('patterned strings are checked', () => {
    assert.ok('value' in value('volume-id', '3f1c0a2e-1b2c-4d5e-8f90-0123456789ab'));
    assert.ok('value' in value('volume-id', ''));
    assert.ok('problem' in value('volume-id', 'not-a-uuid'));
    assert.ok('problem' in value('session-name', 'Has Spaces'));
  });
});

describe('did-you-mean', () => {
  it('edit distance', () => {
    assert.equal(levenshtein('sync-job', 'sync-jobs'), 1);
    assert.equal(levenshtein('', 'abc'), 3);
    assert.equal(levenshtein('kitten', 'sitting'), 3);
  });

  it('suggests the closest name, maps upstream spellings, and stays quiet when nothing is close', () => {
    const names = tunables.map((t) => t.name);
    assert.equal(closestName('sync_job', names), 'sync-jobs');
    assert.equal(closestName('secondary-timeout', names), 'slave-timeout');
    assert.equal(closestName('frobnicate', names), undefined);
  });
});
