import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isGsyncdError } from '../../../src/core/errors.js';
import { checkPair, sessionKey } from '../../../src/url/pair.js';
import { parseUrl } from '../../../src/url/url.js';
import { resourceUrl } from './arbitraries.js';

// master × slave → null when allowed, else a regex for the reason.
const matrix: Array<[string, string, RegExp | null]> = [
  [':pop', ':yow', null],
  [':pop', '/data/mirror', null],
  [':pop', 'example.com:/data/far_mirror', null],
  [':pop', 'example.com::moz', null],
  ['/data/src', '/data/mirror', null], // ours: a plain directory may be the master
  ['/data/src', 'geo@example.com::moz', null],
  ['/data/src', ':yow', null],
  ['example.com::moz', ':pop', /must be local .* not ssh$/],
  ['example.com:/x', '/data/mirror', /must be local/],
  [':pop', ':pop', /same$/],
  ['/data', '/data/', /same$/],
  ['/data', '/data/mirror', /one directory contains the other$/],
  ['/data/mirror', '/data', /one directory contains the other$/],
  ['/', '/srv', /one directory contains the other$/],
];

describe('checkPair', () => {
  for (const [m, s, refused] of matrix) {
    it(`${m} ${s} → ${refused ? 'refused' : 'ok'}`, () => {
      const run = () => checkPair(parseUrl(m), parseUrl(s));
      if (refused === null) return run();
      assert.throws(run, (err: unknown) => {
        assert.ok(isGsyncdError(err, 'GSYNCD_ERR_URL_PAIR'));
        assert.match(err.message, /^\S+ cannot work with \S+: /);
        assert.match(err.message, refused);
        return true;
      });
    });
  }

  it('names both URLs in normalized form', () => {
    assert.throws(() => checkPair(parseUrl('h::v'), parseUrl(':pop')), {
      message: 'ssh://h:gluster://localhost:v cannot work with gluster://localhost:pop: the master must be local (a gluster volume or a directory), not ssh',
    });
  });
});

describe('sessionKey', () => {
  const key = (m: string, s: string) => sessionKey(parseUrl(m), parseUrl(s));

  it('volume to volume: <mastervol>_<slavehost>_<slavevol>, lower-cased', () => {
    assert.equal(key(':Pop', 'Geo@Slave.Example.com::Moz'), 'pop_slave.example.com_moz');
    assert.equal(key(':pop', ':yow'), 'pop_localhost_yow');
    assert.equal(key('gluster://10.0.0.1:pop', 'ssh://h:22:gluster://10.0.0.9:yow'), 'pop_h_yow');
    assert.equal(key(':pop', '[2001:db8::1]::yow'), 'pop_2001_db8__1_yow');
    assert.equal(key(':_pop', '[::1]::yow'), 'pop___1_yow');
  });

  it('anything else: s- and 8 hex of the normalized pair', () => {
    assert.match(key(':pop', '/data/mirror'), /^s-[0-9a-f]{8}$/);
    assert.match(key('/data/src', 'h::moz'), /^s-[0-9a-f]{8}$/);
    assert.notEqual(key(':pop', '/a'), key(':pop', '/b'));
    assert.equal(key(':pop', '/a'), key('gluster://LOCALHOST:pop', 'file:///a/'));
  });

  it('a name cut to 63 characters keeps a hash, so long pairs stay apart', () => {
    const long = 'v'.repeat(60);
    const a = key(`:${long}a`, ':x');
    const b = key(`:${long}b`, ':x');
    assert.equal(a.length, 63);
    assert.notEqual(a, b);
  });

  it('always a valid session name', () => {
    fc.assert(
      fc.property(resourceUrl, resourceUrl, (m, s) => assert.match(sessionKey(m, s), /^[a-z0-9][a-z0-9_.-]{0,62}$/)),
      { numRuns: 1000 },
    );
  });
});
