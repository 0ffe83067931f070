import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import { hostPattern, knownKeyTypes, knownKeysFor, verifyHostKey } from '../../../src/transport/known-hosts.js';

const keyA = Buffer.from('key-a-blob');
const keyB = Buffer.from('key-b-blob');
const b64 = (b: Buffer) => b.toString('base64');

function hashed(name: string): string {
  const salt = crypto.randomBytes(20);
  return `|1|${salt.toString('base64')}|${crypto.createHmac('sha1', salt).update(name).digest('base64')}`;
}

describe('known_hosts', () => {
  it('names a non-22 port as [host]:port', () => {
    assert.equal(hostPattern('h', 22), 'h');
    assert.equal(hostPattern('127.0.0.1', 2222), '[127.0.0.1]:2222');
  });

  it('matches [host]:port entries literally (brackets are not a character class)', () => {
    const text = `[127.0.0.1]:2222 ssh-ed25519 ${b64(keyA)}\n`;
    assert.equal(knownKeysFor(text, ['[127.0.0.1]:2222']).length, 1);
    assert.equal(knownKeysFor(text, ['1']).length, 0);
    assert.equal(knownKeysFor(text, ['[127.0.0.1]:2223']).length, 0);
  });

  it('matches hashed entries, lists, wildcards and negation', () => {
    const text = [
      `${hashed('secret-host')} ssh-ed25519 ${b64(keyA)}`,
      `web1,web2 ssh-rsa ${b64(keyB)}`,
      `*.example.com,!bad.example.com ecdsa-sha2-nistp256 ${b64(keyA)}`,
      '# a comment',
    ].join('\n');
    assert.deepEqual(knownKeyTypes(text, ['secret-host']), ['ssh-ed25519']);
    assert.deepEqual(knownKeyTypes(text, ['web2']), ['ssh-rsa']);
    assert.deepEqual(knownKeyTypes(text, ['a.example.com']), ['ecdsa-sha2-nistp256']);
    assert.deepEqual(knownKeyTypes(text, ['bad.example.com']), []);
    assert.deepEqual(knownKeyTypes(text, ['other-host']), []);
  });

  it('accepts the known key, refuses unknown hosts, changed keys and revoked keys', () => {
    const text = `h ssh-ed25519 ${b64(keyA)}\n@revoked h ssh-ed25519 ${b64(keyB)}\n`;
    assert.deepEqual(verifyHostKey(text, ['h'], keyA), { ok: true });
    const revoked = verifyHostKey(text, ['h'], keyB);
    assert.equal(revoked.ok, false);
    assert.equal(!revoked.ok && revoked.reason, 'revoked');
    const changed = verifyHostKey(`h ssh-ed25519 ${b64(keyA)}\n`, ['h'], keyB);
    assert.equal(!changed.ok && changed.reason, 'changed');
    const unknown = verifyHostKey('', ['h'], keyA);
    assert.equal(!unknown.ok && unknown.reason, 'unknown');
  });

  it('never trusts @cert-authority lines as host keys', () => {
    assert.equal(verifyHostKey(`@cert-authority h ssh-ed25519 ${b64(keyA)}\n`, ['h'], keyA).ok, false);
  });
});
