import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ExitCode, GsyncdError, describeError, errorCodes, exitCodeMeaning, exitCodeOf, gsyncdError, isGsyncdError, type ErrorCode,
} from '../../../src/core/errors.js';

describe('exit codes', () => {
  it('follow sysexits: usage 64, slave unavailable 69, config 78', () => {
    assert.equal(ExitCode.ok, 0);
    assert.equal(ExitCode.unexpected, 1);
    assert.equal(ExitCode.usage, 64);
    assert.equal(ExitCode.slaveUnavailable, 69);
    assert.equal(ExitCode.config, 78);
  });

  const expected: [ErrorCode, number][] = [
    ['GSYNCD_ERR_USAGE', 64], ['GSYNCD_ERR_UNKNOWN_OPTION', 64], ['GSYNCD_ERR_BAD_OPTION_VALUE', 64],
    ['GSYNCD_ERR_BAD_URL', 64], ['GSYNCD_ERR_URL_PAIR', 64], ['GSYNCD_ERR_NOT_YET_EFFECTIVE', 64],
    ['GSYNCD_ERR_CONFIG', 78],
    ['GSYNCD_ERR_SLAVE_UNAVAILABLE', 69], ['GSYNCD_ERR_HOST_KEY', 69], ['GSYNCD_ERR_RPC', 69],
    ['GSYNCD_ERR_UNSAFE_PATH', 1], ['GSYNCD_ERR_RSYNC', 1], ['GSYNCD_ERR_SAFETY_HALT', 1], ['GSYNCD_ERR_INTERNAL', 1],
  ];
  for (const [code, exit] of expected) {
    it(`${code} exits ${exit}`, () => {
      const e = gsyncdError(code, 'boom');
      assert.equal(e.code, code);
      assert.equal(e.exitCode, exit);
      assert.equal(exitCodeOf(e), exit);
    });
  }

  it('every code maps to a documented exit status, and codes are unique and prefixed', () => {
    assert.equal(new Set(errorCodes).size, errorCodes.length);
    for (const code of errorCodes) {
      assert.match(code, /^GSYNCD_ERR_[A-Z_]+$/);
      const e = new GsyncdError(code, 'x');
      assert.ok(Object.values(ExitCode).includes(e.exitCode), code);
      assert.equal(typeof exitCodeMeaning[e.exitCode], 'string');
    }
    for (const v of Object.values(ExitCode)) assert.ok(exitCodeMeaning[v].length > 0);
  });

  it('anything that is not a gsyncd error exits 1', () => {
    for (const x of [new Error('plain'), new TypeError('t'), 'string', 42, null, undefined, { code: 'GSYNCD_ERR_CONFIG' },
      Object.assign(new Error('fs'), { code: 'ENOENT' })]) {
      assert.equal(exitCodeOf(x), 1, String(x));
    }
  });
});

describe('GsyncdError / isGsyncdError', () => {
  it('carries name, message, code and cause', () => {
    const cause = new Error('inner');
    const e = gsyncdError('GSYNCD_ERR_CONFIG', 'bad line 3', cause);
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'GsyncdError');
    assert.equal(e.message, 'bad line 3');
    assert.equal(e.cause, cause);
    assert.ok(!('cause' in gsyncdError('GSYNCD_ERR_CONFIG', 'no cause')));
  });

  it('matches by code, including errors from another copy of the module (duck-typed)', () => {
    const e = gsyncdError('GSYNCD_ERR_RPC', 'x');
    assert.ok(isGsyncdError(e));
    assert.ok(isGsyncdError(e, 'GSYNCD_ERR_RPC'));
    assert.ok(!isGsyncdError(e, 'GSYNCD_ERR_CONFIG'));
    const foreign = Object.assign(new Error('y'), { code: 'GSYNCD_ERR_CONFIG', exitCode: 78 });
    assert.ok(isGsyncdError(foreign, 'GSYNCD_ERR_CONFIG'));
    assert.equal(exitCodeOf(foreign), 78);
    assert.ok(!isGsyncdError(Object.assign(new Error('z'), { code: 'ENOENT' })));
    assert.ok(!isGsyncdError({ code: 'GSYNCD_ERR_CONFIG', message: 'not an Error' }));
    assert.ok(!isGsyncdError(null));
  });
});

describe('describeError', () => {
  it('joins the cause chain, innermost last', () => {
    const root = Object.assign(new Error('connect ECONNREFUSED 192.0.2.1:22'), { code: 'ECONNREFUSED' });
    const mid = new Error('ssh handshake failed', { cause: root });
    const top = gsyncdError('GSYNCD_ERR_SLAVE_UNAVAILABLE', 'cannot reach slave', mid);
    assert.equal(describeError(top), 'cannot reach slave: ssh handshake failed: connect ECONNREFUSED 192.0.2.1:22');
  });

  it('handles non-Error values and non-Error causes', () => {
    assert.equal(describeError('just text'), 'just text');
    assert.equal(describeError(42), '42');
    assert.equal(describeError(new Error('outer', { cause: 'a string cause' })), 'outer: a string cause');
    assert.equal(describeError(new Error('outer', { cause: null })), 'outer');
    assert.equal(describeError(new Error('only')), 'only');
  });

  it('stops on a cyclic cause chain', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    const out = describeError(a);
    assert.ok(out.startsWith('a: b: a: b'));
    assert.ok(out.split(': ').length <= 8);
  });
});
