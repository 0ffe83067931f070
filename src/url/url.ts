// Resource URLs: the original gsyncd's URL grammar (full `scheme://body` plus the README's
// short forms) parsed into a tagged union, and printed back in one normalized form.
//
// Normalized form (normalizeUrl), chosen so that parseUrl(normalizeUrl(u)) deep-equals u:
//   file    → file:///abs/path            (slashes collapsed, '.' dropped, no trailing '/')
//   gluster → gluster://HOST:VOL          (HOST lower-cased; IPv6 as [addr] in RFC 5952 form)
//   ssh     → ssh://[USER@]HOST[:PORT]:INNER, INNER = the inner URL's own normalized form,
//             e.g. ssh://geo@example.com:file:///data/far_mirror,
//                  ssh://example.com:22:gluster://localhost:moz
//   One rule, no sugar inside: it is the shape of the original's canonical form, so normalized
//   and canonical forms differ only by name resolution and the default user.
// describeUrl prints the README short form instead (`:pop`, `host:/path`, `host::vol`); it
// parses back to the same value too, but is meant for people and logs.
//
// Deliberate departures from the original, each turning an error into something sensible:
//   - text starting with '/' is always a path, even when it contains ':' (the original split it
//     at the ':' and then failed on a host name like '/data/x');
//   - ssh takes an optional port after the host: ssh://host:2222:/path, host:2222::vol;
//   - a host may be an IPv6 address in brackets, also in the short forms: [::1]:vol.
// Names that could be read as command-line options (starting with '-') are refused everywhere.

import { isIPv4, isIPv6 } from 'node:net';
import { gsyncdError } from '../core/errors.js';

/** A local directory. `path` is the user's text (UTF-8), absolute and normalized. */
export interface FileUrl {
  readonly kind: 'file';
  readonly path: string;
}
/** A GlusterFS volume served by `host` (lower-cased name, IPv4, or IPv6 without brackets). */
export interface GlusterUrl {
  readonly kind: 'gluster';
  readonly host: string;
  readonly volume: string;
}
/** A resource on another machine reached by ssh; `inner` is as seen from that machine. */
export interface SshUrl {
  readonly kind: 'ssh';
  readonly user?: string;
  readonly host: string;
  readonly port?: number;
  readonly inner: FileUrl | GlusterUrl;
}
export type ResourceUrl = FileUrl | GlusterUrl | SshUrl;

// ---------------------------------------------------------------------------------------------
// Parsing. Inner functions throw Reason (just the "what is wrong" part); parseUrl adds the input.

class Reason extends Error {}
function fail(reason: string): never {
  throw new Reason(reason);
}

const HOST_LABEL = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?';
const HOST_NAME = new RegExp(`^${HOST_LABEL}(?:\\.${HOST_LABEL})*$`, 'i');
// Gluster's volume characters, plus '.' as the original allowed; the first character may not
// be '-' or '.', so a volume never reads as an option, '.' or '..'.
const VOLUME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
// Word characters plus the e-mail local-part punctuation of the original ('*' and '?' can never
// get this far: they are refused in the whole URL). A user starts with a word character, so it
// is never read as an option or, in the short form, as a path.
const USER = /^\w[\w!#$%&'*+\-/=?^`{|}~]*$/;

/**
 * Parse any URL form of the original README (see the file comment for our extensions).
 * Throws GSYNCD_ERR_BAD_URL with one line naming the input and the problem.
 */
export function parseUrl(text: string): ResourceUrl {
  try {
    checkCharacters(text);
    const [scheme, body] = schemeAndBody(text);
    return parseBody(scheme, body);
  } catch (err) {
    if (err instanceof Reason) throw gsyncdError('GSYNCD_ERR_BAD_URL', `bad URL ${show(text)}: ${err.message}`);
    throw err;
  }
}

function checkCharacters(text: string): void {
  if (text === '') fail('empty URL');
  if (text.includes('\0')) fail('contains a NUL byte');
  // Control characters and line separators would also break the one-line error and log output.
  const control = /[\p{Cc}\u2028\u2029]/u.exec(text);
  if (control) fail(`contains control character ${codePoint(control[0])}`);
  const lone = /\p{Cs}/u.exec(text);
  if (lone) fail(`contains lone surrogate ${codePoint(lone[0])} (not well-formed Unicode)`);
  // The original refuses these in every URL body (since Sep 2011): they are shell/rsync globs.
  const glob = /[ *?]/.exec(text);
  if (glob) fail(`contains ${glob[0] === ' ' ? 'a space' : `'${glob[0]}'`} (space, '*', '?' and '[' are not allowed)`);
}

/** Full form `scheme://body`, or the original's desugaring of the short forms. */
function schemeAndBody(text: string): [string, string] {
  const full = /^(\w+):\/\/(.*)$/s.exec(text);
  if (full) return [full[1]!, full[2]!];
  if (text.startsWith('/')) return ['file', text];
  const colon = splitColon(text);
  if (colon < 0) fail('cannot resolve sugared URL (a directory must be an absolute path)');
  const before = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  if (before === '') return ['gluster', `localhost${text}`];
  if (before.includes('@') || /[:/]/.test(rest)) return ['ssh', text];
  return ['gluster', text];
}

/** The original splits at the first ':'; we skip one inside a leading `[IPv6]` host. */
function splitColon(text: string): number {
  const close = text.startsWith('[') ? text.indexOf(']') : -1;
  return text.indexOf(':', close + 1);
}

function parseBody(scheme: string, body: string): ResourceUrl {
  switch (scheme.toLowerCase()) {
    case 'file':
      return { kind: 'file', path: parsePath(body) };
    case 'gluster':
      return parseGluster(body);
    case 'ssh':
      return parseSsh(body);
    default:
      fail(`unknown scheme ${q(scheme)} (expected file, gluster or ssh)`);
  }
}

function parsePath(path: string): string {
  if (path === '') fail('empty path');
  if (!path.startsWith('/')) fail(`a directory must be an absolute path, got ${q(path)} (write three slashes: file:///…)`);
  if (path.includes('[')) fail(`path contains '[' (space, '*', '?' and '[' are not allowed)`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  // '..' would let a URL name something other than what it spells; the slave refuses it too.
  if (parts.includes('..')) fail(`path component '..' is not allowed`);
  return `/${parts.join('/')}`;
}

function parseGluster(body: string): GlusterUrl {
  const { host, rest } = splitHost(body);
  if (!rest.startsWith(':')) fail(rest === '' ? `missing ':VOLUME' after host ${q(body)}` : `unexpected ${q(rest)} after host`);
  return { kind: 'gluster', host, volume: volumeName(rest.slice(1)) };
}

function parseSsh(body: string): SshUrl {
  // A user has no ':' or '@', so an '@' before the first ':' ends it; a later '@' is the inner's.
  const at = body.indexOf('@');
  const colon = body.indexOf(':');
  const hasUser = at >= 0 && (colon < 0 || at < colon);
  const user = hasUser ? userName(body.slice(0, at)) : undefined;
  const { host, rest } = splitHost(hasUser ? body.slice(at + 1) : body);
  if (!rest.startsWith(':')) {
    fail(rest === '' ? `missing ':' and a path or volume after host ${q(host)}` : `unexpected ${q(rest)} after host`);
  }
  let innerText = rest.slice(1);
  // Our extension: digits followed by ':' right after the host are a port. No valid inner URL
  // starts that way (an all-digit host name is refused), so nothing of the original is lost.
  const portMatch = /^(\d+):/.exec(innerText);
  const port = portMatch ? portNumber(portMatch[1]!) : undefined;
  if (portMatch) innerText = innerText.slice(portMatch[0].length);
  const inner = parseInner(innerText);
  return {
    kind: 'ssh',
    ...(user === undefined ? {} : { user }),
    host,
    ...(port === undefined ? {} : { port }),
    inner,
  };
}

/** The inner URL is parsed recursively, as in the original, but may not be ssh again. */
function parseInner(text: string): FileUrl | GlusterUrl {
  if (text === '') fail('nothing after the host (expected a path or a volume)');
  try {
    const [scheme, body] = schemeAndBody(text);
    if (scheme.toLowerCase() === 'ssh') fail('ssh inside ssh is not supported');
    return parseBody(scheme, body) as FileUrl | GlusterUrl;
  } catch (err) {
    if (err instanceof Reason) fail(`inner URL ${q(text)}: ${err.message}`);
    throw err;
  }
}

/** `host` up to the next ':' (or `[IPv6]`); `rest` starts at what follows it. */
function splitHost(text: string): { host: string; rest: string } {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) fail(`unterminated '[' in ${q(text)}`);
    return { host: ipv6(text.slice(1, close)), rest: text.slice(close + 1) };
  }
  const colon = text.indexOf(':');
  return colon < 0 ? { host: hostName(text), rest: '' } : { host: hostName(text.slice(0, colon)), rest: text.slice(colon) };
}

function hostName(name: string): string {
  if (name === '') fail('empty host name');
  if (/^[0-9.]+$/.test(name)) {
    if (!isIPv4(name)) fail(`bad IPv4 address ${q(name)}`);
    return name;
  }
  if (!HOST_NAME.test(name) || name.length > 253 || name.split('.').some((l) => l.length > 63)) {
    fail(`bad host name ${q(name)} (letters, digits, inner '.' and '-'; IPv6 goes in brackets)`);
  }
  return name.toLowerCase();
}

function ipv6(address: string): string {
  if (address.includes('%')) fail(`bad IPv6 address ${q(`[${address}]`)}: zone ids are not supported`);
  if (!isIPv6(address)) fail(`bad IPv6 address ${q(`[${address}]`)}`);
  // The WHATWG URL parser prints the RFC 5952 form: one spelling per address.
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

function volumeName(volume: string): string {
  if (volume === '') fail('empty volume name');
  if (!VOLUME.test(volume)) {
    fail(`bad volume name ${q(volume)} (letters, digits, '_', '.', '-'; not starting with '.' or '-')`);
  }
  return volume;
}

function userName(user: string): string {
  if (user === '') fail('empty user name');
  if (!USER.test(user)) fail(`bad user name ${q(user)}`);
  return user;
}

function portNumber(digits: string): number {
  const port = Number(digits);
  if (!(port >= 1 && port <= 65535)) fail(`port ${digits.length > 12 ? `${digits.slice(0, 12)}…` : digits} out of range 1-65535`);
  return port;
}

function codePoint(ch: string): string {
  return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** A part of the (already checked) input, quoted and shortened for an error line. */
function q(part: string): string {
  return `'${part.length > 64 ? `${part.slice(0, 64)}…` : part}'`;
}

/** The input quoted for an error line: control characters escaped, long input shortened. */
function show(text: string): string {
  const short = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  const escaped = short.replace(/[\p{Cc}\u2028\u2029]|\p{Cs}/gu, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
  return `'${escaped}'`;
}

// ---------------------------------------------------------------------------------------------
// Printing and small queries.

/** IPv6 addresses are stored bare and printed in brackets. */
export function hostText(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The one normalized printed form (see the file comment); parseUrl reads it back unchanged. */
export function normalizeUrl(u: ResourceUrl): string {
  switch (u.kind) {
    case 'file':
      return `file://${u.path}`;
    case 'gluster':
      return `gluster://${hostText(u.host)}:${u.volume}`;
    case 'ssh':
      return `ssh://${sshHostPart(u)}:${normalizeUrl(u.inner)}`;
  }
}

/** Alias of normalizeUrl. */
export const formatUrl = normalizeUrl;

/** `[user@]host[:port]` of an ssh URL. */
export function sshHostPart(u: SshUrl): string {
  const user = u.user === undefined ? '' : `${u.user}@`;
  const port = u.port === undefined ? '' : `:${u.port}`;
  return `${user}${hostText(u.host)}${port}`;
}

/** Short README-style text for logs: `/data/mirror`, `:pop`, `host:vol`, `geo@host::vol`. */
export function describeUrl(u: ResourceUrl): string {
  switch (u.kind) {
    case 'file':
      return u.path;
    case 'gluster':
      return `${u.host === 'localhost' ? '' : hostText(u.host)}:${u.volume}`;
    case 'ssh':
      return `${sshHostPart(u)}:${describeUrl(u.inner)}`;
  }
}

export function isRemote(u: ResourceUrl): u is SshUrl {
  return u.kind === 'ssh';
}

/** The gluster volume named by the URL (through ssh too), if any. */
export function volumeOf(u: ResourceUrl): string | undefined {
  if (u.kind === 'gluster') return u.volume;
  if (u.kind === 'ssh') return volumeOf(u.inner);
  return undefined;
}

/** The machine the URL points at: the ssh host, the gluster server; undefined for a directory. */
export function hostOf(u: ResourceUrl): string | undefined {
  return u.kind === 'file' ? undefined : u.host;
}
