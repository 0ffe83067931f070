import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isGsyncdError } from '../../../src/core/errors.js';
import {
  describeUrl, hostOf, isRemote, normalizeUrl, parseUrl, volumeOf, type FileUrl, type GlusterUrl, type ResourceUrl,
} from '../../../src/url/url.js';
import { resourceUrl, urlish } from './arbitraries.js';

const file = (path: string): FileUrl => ({ kind: 'file', path });
const gluster = (host: string, volume: string): GlusterUrl => ({ kind: 'gluster', host, volume });

// Every form of the original README (and our extensions) → value → normalized form.
const forms: Array<[string, ResourceUrl, string]> = [
  ['gluster://localhost:pop', gluster('localhost', 'pop'), 'gluster://localhost:pop'],
  [':pop', gluster('localhost', 'pop'), 'gluster://localhost:pop'],
  [':yow', gluster('localhost', 'yow'), 'gluster://localhost:yow'],
  ['file:///data/mirror', file('/data/mirror'), 'file:///data/mirror'],
  ['/data/mirror', file('/data/mirror'), 'file:///data/mirror'],
  ['//data//mirror/./', file('/data/mirror'), 'file:///data/mirror'],
  ['/', file('/'), 'file:///'],
  ['/data/a:b', file('/data/a:b'), 'file:///data/a:b'],
  ['FILE:///x', file('/x'), 'file:///x'],
  ['ssh://example.com:/data/far_mirror', { kind: 'ssh', host: 'example.com', inner: file('/data/far_mirror') },
    'ssh://example.com:file:///data/far_mirror'],
  ['ssh://user@example.com:/data/far_mirror', { kind: 'ssh', user: 'user', host: 'example.com', inner: file('/data/far_mirror') },
    'ssh://user@example.com:file:///data/far_mirror'],
  ['ssh://user@example.com:2222:/data/far_mirror',
    { kind: 'ssh', user: 'user', host: 'example.com', port: 2222, inner: file('/data/far_mirror') },
    'ssh://user@example.com:2222:file:///data/far_mirror'],
  ['ssh://user@host:gluster://localhost:vol', { kind: 'ssh', user: 'user', host: 'host', inner: gluster('localhost', 'vol') },
    'ssh://user@host:gluster://localhost:vol'],
  ['example.com:/data/far_mirror', { kind: 'ssh', host: 'example.com', inner: file('/data/far_mirror') },
    'ssh://example.com:file:///data/far_mirror'],
  ['user@example.com:/data/far_mirror', { kind: 'ssh', user: 'user', host: 'example.com', inner: file('/data/far_mirror') },
    'ssh://user@example.com:file:///data/far_mirror'],
  ['example.com::moz', { kind: 'ssh', host: 'example.com', inner: gluster('localhost', 'moz') },
    'ssh://example.com:gluster://localhost:moz'],
  ['user@h::v', { kind: 'ssh', user: 'user', host: 'h', inner: gluster('localhost', 'v') }, 'ssh://user@h:gluster://localhost:v'],
  ['h:22::v', { kind: 'ssh', host: 'h', port: 22, inner: gluster('localhost', 'v') }, 'ssh://h:22:gluster://localhost:v'],
  ['h:other:v', { kind: 'ssh', host: 'h', inner: gluster('other', 'v') }, 'ssh://h:gluster://other:v'],
  ['host:vol', gluster('host', 'vol'), 'gluster://host:vol'],
  ['Example.COM:Vol', gluster('example.com', 'Vol'), 'gluster://example.com:Vol'],
  ['10.0.0.1:vol', gluster('10.0.0.1', 'vol'), 'gluster://10.0.0.1:vol'],
  ['[::1]:vol', gluster('::1', 'vol'), 'gluster://[::1]:vol'],
  ['gluster://[2001:DB8:0:0::1]:vol', gluster('2001:db8::1', 'vol'), 'gluster://[2001:db8::1]:vol'],
  ['geo@[::1]:/x', { kind: 'ssh', user: 'geo', host: '::1', inner: file('/x') }, 'ssh://geo@[::1]:file:///x'],
  ["o'brien+tag@h:/x", { kind: 'ssh', user: "o'brien+tag", host: 'h', inner: file('/x') }, "ssh://o'brien+tag@h:file:///x"],
];

describe('parseUrl and normalizeUrl', () => {
  for (const [text, value, normal] of forms) {
    it(`${text} → ${normal}`, () => {
      assert.deepEqual(parseUrl(text), value);
      assert.equal(normalizeUrl(value), normal);
      assert.deepEqual(parseUrl(normal), value);
    });
  }

  it('reads the README pair `:pop :yow` as two local volumes', () => {
    const [m, s] = [':pop', ':yow'].map(parseUrl);
    assert.deepEqual([m, s], [gluster('localhost', 'pop'), gluster('localhost', 'yow')]);
    assert.equal(isRemote(s!), false);
  });
});

// Each malformed input → GSYNCD_ERR_BAD_URL with one line naming the input and the problem.
const malformed: Array<[string, RegExp]> = [
  ['', /^bad URL '': empty URL$/],
  ['gluster://host:', /^bad URL 'gluster:\/\/host:': empty volume name$/],
  [':', /^bad URL ':': empty volume name$/],
  ['gluster://host', /^bad URL 'gluster:\/\/host': missing ':VOLUME' after host 'host'$/],
  ['gluster://:vol', /^bad URL 'gluster:\/\/:vol': empty host name$/],
  ['gluster://h:-v', /^bad URL 'gluster:\/\/h:-v': bad volume name '-v'/],
  ['gluster://h:..', /^bad URL 'gluster:\/\/h:\.\.': bad volume name '\.\.'/],
  ['h_x:vol', /^bad URL 'h_x:vol': bad host name 'h_x'/],
  ['-oProxyCommand=x:/p', /^bad URL '-oProxyCommand=x:\/p': bad host name '-oProxyCommand=x'/],
  ['300.1.1.1:vol', /^bad URL '300\.1\.1\.1:vol': bad IPv4 address '300\.1\.1\.1'$/],
  ['[fe80::1%eth0]:v', /^bad URL '\[fe80::1%eth0\]:v': bad IPv6 address '\[fe80::1%eth0\]'/],
  ['[::1:v', /^bad URL '\[::1:v': .*unterminated '\['/],
  ['ssh://h:99999:/x', /^bad URL 'ssh:\/\/h:99999:\/x': port 99999 out of range 1-65535$/],
  ['ssh://h:0:/x', /^bad URL 'ssh:\/\/h:0:\/x': port 0 out of range 1-65535$/],
  ['ssh://h', /^bad URL 'ssh:\/\/h': missing ':' and a path or volume after host 'h'$/],
  ['ssh://h:', /^bad URL 'ssh:\/\/h:': nothing after the host/],
  ['ssh://@h:/x', /^bad URL 'ssh:\/\/@h:\/x': empty user name$/],
  ['-u@h:/x', /^bad URL '-u@h:\/x': bad user name '-u'$/],
  ['foo', /^bad URL 'foo': cannot resolve sugared URL \(a directory must be an absolute path\)$/],
  ['data/mirror', /^bad URL 'data\/mirror': cannot resolve sugared URL/],
  ['file://data/mirror', /^bad URL 'file:\/\/data\/mirror': a directory must be an absolute path, got 'data\/mirror'/],
  ['file://', /^bad URL 'file:\/\/': empty path$/],
  ['ftp://x/y', /^bad URL 'ftp:\/\/x\/y': unknown scheme 'ftp'/],
  ['/data/\0x', /^bad URL '\/data\/\\x00x': contains a NUL byte$/],
  ['/data/\nx', /^bad URL '\/data\/\\x0ax': contains control character U\+000A$/],
  ['/data/\u0085x', /^bad URL '\/data\/\\x85x': contains control character U\+0085$/],
  ['/data/\uD800', /^bad URL '\/data\/\\ud800': contains lone surrogate U\+D800/],
  ['/data/my mirror', /^bad URL '\/data\/my mirror': contains a space/],
  ['/data/*', /^bad URL '\/data\/\*': contains '\*'/],
  ['gluster://h:v?x', /contains '\?'/],
  ['/data/[ab]', /^bad URL '\/data\/\[ab\]': path contains '\['/],
  ['/data/../etc', /^bad URL '\/data\/\.\.\/etc': path component '\.\.' is not allowed$/],
  ['h:/data/..', /^bad URL 'h:\/data\/\.\.': inner URL '\/data\/\.\.': path component '\.\.' is not allowed$/],
  ['ssh://a:ssh://b:/x', /^bad URL 'ssh:\/\/a:ssh:\/\/b:\/x': inner URL 'ssh:\/\/b:\/x': ssh inside ssh is not supported$/],
  ['a:b:/x', /^bad URL 'a:b:\/x': inner URL 'b:\/x': ssh inside ssh is not supported$/],
  ['ssh://h:pop', /^bad URL 'ssh:\/\/h:pop': inner URL 'pop': cannot resolve sugared URL/],
];

describe('parseUrl refuses malformed input', () => {
  for (const [text, message] of malformed) {
    it(JSON.stringify(text), () => {
      assert.throws(() => parseUrl(text), (err: unknown) => {
        assert.ok(isGsyncdError(err, 'GSYNCD_ERR_BAD_URL'), String(err));
        assert.match(err.message, message);
        assert.equal(err.exitCode, 64);
        assert.ok(!err.message.includes('\n'));
        return true;
      });
    });
  }
});

describe('properties', () => {
  it('parse(normalize(x)) deep-equals x', () => {
    fc.assert(fc.property(resourceUrl, (x) => assert.deepEqual(parseUrl(normalizeUrl(x)), x)), { numRuns: 2000 });
  });

  it('the README short form from describeUrl parses back to the same value', () => {
    fc.assert(fc.property(resourceUrl, (x) => assert.deepEqual(parseUrl(describeUrl(x)), x)), { numRuns: 1000 });
  });

  it('any string: a value whose normal form is a fixed point, or GSYNCD_ERR_BAD_URL', () => {
    let parsed = 0;
    fc.assert(
      fc.property(urlish, (text) => {
        let u: ResourceUrl;
        try {
          u = parseUrl(text);
        } catch (err) {
          assert.ok(isGsyncdError(err, 'GSYNCD_ERR_BAD_URL'), `${JSON.stringify(text)}: ${String(err)}`);
          assert.ok(!err.message.includes('\n'));
          return;
        }
        parsed++;
        assert.deepEqual(parseUrl(normalizeUrl(u)), u);
      }),
      { numRuns: 20000 },
    );
    assert.ok(parsed > 100, `the fuzz should reach valid URLs too (parsed ${parsed})`);
  });
});

describe('queries', () => {
  it('isRemote, volumeOf, hostOf, describeUrl', () => {
    const remote = parseUrl('geo@example.com:2222::moz');
    assert.equal(isRemote(remote), true);
    assert.equal(volumeOf(remote), 'moz');
    assert.equal(hostOf(remote), 'example.com');
    assert.equal(describeUrl(remote), 'geo@example.com:2222::moz');
    assert.equal(volumeOf(parseUrl('/x')), undefined);
    assert.equal(hostOf(parseUrl('/x')), undefined);
    assert.equal(hostOf(parseUrl(':pop')), 'localhost');
    assert.equal(describeUrl(parseUrl('gluster://[::1]:v')), '[::1]:v');
    assert.equal(describeUrl(parseUrl('file:///data//x/')), '/data/x');
  });
});
