import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fromText } from '../../../src/core/bytepath.js';
import { MAX_NAME_BYTES, MAX_PATH_BYTES, checkRelPath } from '../../../src/core/path-guard.js';

describe('checkRelPath: accepts', () => {
  for (const p of ['', 'a', 'a/b/c', '.hidden', '...', '..a', 'a..', 'a/..b/c', '-rf', '--', 'a b', 'line\nbreak', '\xff\xfe', 'caf\xe9/\x01',
    fromText('日本語/ファイル'), '.gsyncd-rename-x-0.3', 'x'.repeat(MAX_NAME_BYTES), `${'x'.repeat(MAX_NAME_BYTES)}/${'y'.repeat(MAX_NAME_BYTES)}`]) {
    it(`accepts ${JSON.stringify(p.length > 40 ? `${p.slice(0, 20)}…(${p.length})` : p)}`, () => assert.equal(checkRelPath(p), null));
  }
  it('accepts a path of exactly MAX_PATH_BYTES', () => {
    const name = 'n'.repeat(200);
    let p = name;
    while (p.length + 1 + name.length <= MAX_PATH_BYTES) p += `/${name}`;
    p += `/${'m'.repeat(MAX_PATH_BYTES - p.length - 1)}`;
    assert.equal(p.length, MAX_PATH_BYTES);
    assert.equal(checkRelPath(p), null);
    assert.equal(checkRelPath(`${p}z`), 'bad_path');
  });
});

describe('checkRelPath: refuses', () => {
  const cases: [unknown, string][] = [
    ['..', 'path_escape'], ['../x', 'path_escape'], ['a/..', 'path_escape'], ['a/../b', 'path_escape'], ['a/b/../../..', 'path_escape'],
    ['/', 'absolute_path'], ['/etc/passwd', 'absolute_path'], ['/..', 'absolute_path'],
    ['a\0b', 'nul_byte'], ['\0', 'nul_byte'], ['/a\0', 'nul_byte'],
    ['a//b', 'bad_path'], ['a/', 'bad_path'], ['.', 'bad_path'], ['./a', 'bad_path'], ['a/./b', 'bad_path'], ['a/.', 'bad_path'],
    ['x'.repeat(MAX_NAME_BYTES + 1), 'bad_path'], [`a/${'x'.repeat(MAX_NAME_BYTES + 1)}/b`, 'bad_path'],
    ['a'.repeat(MAX_PATH_BYTES + 1), 'bad_path'],
    ['日本', 'bad_path'], ['a/\u0100', 'bad_path'], ['\u{1F600}', 'bad_path'],
    [undefined, 'bad_path'], [null, 'bad_path'], [42, 'bad_path'], [Buffer.from('a'), 'bad_path'], [['a'], 'bad_path'], [{}, 'bad_path'],
  ];
  for (const [p, why] of cases) {
    it(`refuses ${typeof p === 'string' ? JSON.stringify(p.length > 40 ? `${p.slice(0, 10)}…(${p.length})` : p) : String(p)} as ${why}`, () => {
      assert.equal(checkRelPath(p), why);
    });
  }
});

describe('checkRelPath: fuzz', () => {
  const refusals = new Set(['nul_byte', 'absolute_path', 'path_escape', 'bad_path']);
  function checkAccepted(p: unknown): void {
    const r = checkRelPath(p);
    assert.ok(r === null || refusals.has(r), `unknown result ${String(r)}`);
    if (r !== null) return;
    assert.equal(typeof p, 'string');
    const s = p as string;
    assert.ok(!s.includes('\0'));
    assert.ok(!s.startsWith('/'));
    assert.ok(s.length <= MAX_PATH_BYTES);
    if (s === '') return;
    for (const c of s.split('/')) {
      assert.notEqual(c, '..');
      assert.notEqual(c, '.');
      assert.notEqual(c, '');
      assert.ok(c.length <= MAX_NAME_BYTES);
    }
    for (let i = 0; i < s.length; i++) assert.ok(s.charCodeAt(i) <= 0xff);
  }

  it('never throws; whatever it accepts is a safe relative byte path (≥10000 arbitrary strings)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 64 }), checkAccepted), { numRuns: 4000 });
    // biased towards the interesting characters so '..', '.', '//' and NUL come up often
    const unit = fc.oneof(fc.constantFrom('.', '/', '\0', 'a', '\xff', '\n', '..', '-'), fc.string({ unit: 'binary', maxLength: 1 }));
    fc.assert(fc.property(fc.string({ unit, maxLength: 40 }), checkAccepted), { numRuns: 6000 });
    fc.assert(fc.property(fc.anything(), checkAccepted), { numRuns: 1000 });
  });

  it('any join of safe names is accepted (property)', () => {
    const name = fc.string({ unit: fc.integer({ min: 1, max: 0xff }).filter((c) => c !== 0x2f).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 20 })
      .filter((n) => n !== '.' && n !== '..');
    fc.assert(fc.property(fc.array(name, { minLength: 1, maxLength: 10 }), (ns) => {
      assert.equal(checkRelPath(ns.join('/')), null);
    }), { numRuns: 1000 });
  });

  it('inserting a `..` component anywhere into a safe path is refused as an escape (property)', () => {
    const name = fc.stringMatching(/^[a-z\xe9\xff -]{1,8}$/).filter((n) => n !== '.' && n !== '..');
    fc.assert(fc.property(fc.array(name, { maxLength: 6 }), fc.nat(), (ns, at) => {
      const parts = [...ns];
      parts.splice(at % (ns.length + 1), 0, '..');
      assert.equal(checkRelPath(parts.join('/')), 'path_escape');
    }), { numRuns: 1000 });
  });
});
