// fast-check generators of valid ResourceUrl values, already in normalized shape (lower-case
// host names, RFC 5952 IPv6, collapsed paths), so that parse(normalize(x)) can deep-equal x.

import fc from 'fast-check';
import type { FileUrl, GlusterUrl, ResourceUrl, SshUrl } from '../../../src/url/url.js';

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
const hostName = fc
  .array(label, { minLength: 1, maxLength: 4 })
  .map((ls) => ls.join('.'))
  .filter((h) => !/^[0-9.]+$/.test(h)); // all-digit names must be IPv4
const ipv6 = fc.ipV6().map((a) => new URL(`http://[${a}]/`).hostname.slice(1, -1));
export const host = fc.oneof(fc.constant('localhost'), hostName, fc.ipV4(), ipv6);

export const volume = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/);

// Path segments: anything but '/', the refused characters, '.' and '..'; includes ':', '@',
// ']', '%', '#', non-ASCII and astral characters, which all must survive the round trip.
const segmentChar = fc.oneof(
  fc.constantFrom(...'abcXYZ019_-.:@]%#+=,~!$&\'()é€'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
);
const segment = fc
  .string({ unit: segmentChar, minLength: 1, maxLength: 8 })
  .filter((s) => s !== '.' && s !== '..' && !/[/ *?[\p{Cc}\u2028\u2029]/u.test(s));
export const path = fc.array(segment, { maxLength: 5 }).map((ss) => `/${ss.join('/')}`);

export const user = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_!#$%&'+\-/=^`{|}~]{0,12}$/);

export const fileUrl: fc.Arbitrary<FileUrl> = path.map((p) => ({ kind: 'file', path: p }));
export const glusterUrl: fc.Arbitrary<GlusterUrl> = fc
  .record({ host, volume })
  .map(({ host: h, volume: v }) => ({ kind: 'gluster', host: h, volume: v }));
export const sshUrl: fc.Arbitrary<SshUrl> = fc
  .record({
    user: fc.option(user, { nil: undefined }),
    host,
    port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    inner: fc.oneof(fileUrl, glusterUrl),
  })
  // Absent, not `undefined`: that is what parseUrl builds, and deepStrictEqual tells them apart.
  .map(({ user: u, host: h, port, inner }) => ({
    kind: 'ssh' as const,
    ...(u === undefined ? {} : { user: u }),
    host: h,
    ...(port === undefined ? {} : { port }),
    inner,
  }));
export const resourceUrl: fc.Arbitrary<ResourceUrl> = fc.oneof(fileUrl, glusterUrl, sshUrl);

// Strings for the fuzz: mostly pieces of the grammar, so that many parse, plus raw noise
// (any code unit, lone surrogates included).
const token = fc.constantFrom(
  ':', '::', '/', '//', '@', '[', ']', '.', '..', '-', '_', ' ', '*', '?', '\0', '\n', '%',
  'file://', 'gluster://', 'ssh://', 'FILE://', 'ftp://', 'localhost', 'example.com', 'h', 'pop',
  'user', '22', '99999', '0', '1.2.3.4', '::1', 'fe80::1', 'é', '\u{1F600}', '\uD800',
);
export const urlish = fc.oneof(
  fc.string({ unit: token, maxLength: 12 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n)), maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
);
