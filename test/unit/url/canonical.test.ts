import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { describe, it } from 'node:test';
import { isGsyncdError } from '../../../src/core/errors.js';
import { canonicalizeEscapeUrl, canonicalizeUrl, quotePlus } from '../../../src/url/canonical.js';
import { parseUrl, type ResourceUrl } from '../../../src/url/url.js';

// A fake resolver keeps the tests off the network.
const hosts: Record<string, string> = { 'example.com': '192.0.2.7', other: '192.0.2.9' };
const lookup = async (host: string): Promise<string> => {
  const ip = hosts[host];
  if (ip === undefined) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
  return ip;
};
const canon = (text: string, user?: string) => canonicalizeUrl(parseUrl(text), { lookup, ...(user ? { user } : {}) });

describe('canonicalizeUrl', () => {
  it('resolves hosts to IPv4 and makes the ssh user explicit', async () => {
    assert.equal(await canon(':pop'), 'gluster://127.0.0.1:pop');
    assert.equal(await canon('/data//mirror/'), 'file:///data/mirror');
    assert.equal(await canon('example.com:vol'), 'gluster://192.0.2.7:vol');
    assert.equal(await canon('geo@example.com::moz'), 'ssh://geo@192.0.2.7:gluster://127.0.0.1:moz');
    assert.equal(await canon('example.com:2222:/x', 'root'), 'ssh://root@192.0.2.7:2222:file:///x');
    assert.equal(await canon('example.com:other:v', 'root'), 'ssh://root@192.0.2.7:gluster://192.0.2.9:v');
    assert.equal(await canon('[::1]::v', 'root'), 'ssh://root@[::1]:gluster://127.0.0.1:v');
  });

  it('defaults the ssh user to the effective user', async () => {
    assert.equal(await canon('example.com:/x'), `ssh://${userInfo().username}@192.0.2.7:file:///x`);
  });

  it('localhost and IP literals need no DNS', async () => {
    const u = parseUrl('ssh://10.1.2.3:gluster://localhost:v');
    assert.equal(await canonicalizeUrl(u, { user: 'me' }), 'ssh://me@10.1.2.3:gluster://127.0.0.1:v');
  });

  it('a name that does not resolve → GSYNCD_ERR_BAD_URL, with the cause', async () => {
    await assert.rejects(canon('nowhere.invalid::v', 'me'), (err: unknown) => {
      assert.ok(isGsyncdError(err, 'GSYNCD_ERR_BAD_URL'));
      assert.match(err.message, /^bad URL 'ssh:\/\/nowhere\.invalid:gluster:\/\/localhost:v': failed to resolve host 'nowhere\.invalid'$/);
      assert.match(String((err.cause as Error).message), /ENOTFOUND/);
      return true;
    });
  });

  it('validates values built by hand', async () => {
    const bad = { kind: 'gluster', host: 'h', volume: '' } as ResourceUrl;
    await assert.rejects(canonicalizeUrl(bad), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_BAD_URL'));
  });
});

describe('canonicalizeEscapeUrl', () => {
  it('is the canonical form through quote_plus', async () => {
    assert.equal(await canonicalizeEscapeUrl(parseUrl(':pop'), { lookup }), 'gluster%3A%2F%2F127.0.0.1%3Apop');
    assert.equal(quotePlus("a b/c~d_e.f-g!'()*é"), 'a+b%2Fc~d_e.f-g%21%27%28%29%2A%C3%A9');
  });
});
