// The original's canonical URL form: hosts resolved to IPv4 and the ssh user made explicit, so
// that two spellings of the same peer compare equal. Needs DNS, hence async and kept apart.

import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { userInfo } from 'node:os';
import { gsyncdError } from '../core/errors.js';
import { hostText, normalizeUrl, parseUrl, type ResourceUrl } from './url.js';

export interface CanonicalizeOptions {
  /** Host name → IPv4 address. Default: dns.lookup with family 4. */
  readonly lookup?: (host: string) => Promise<string>;
  /** Default ssh user. Default: the effective user's name. */
  readonly user?: string;
}

/**
 * `:pop` → `gluster://127.0.0.1:pop`; `example.com:/x` → `ssh://me@93.184.215.14:file:///x`.
 * Like the original, the inner URL of ssh is resolved here too ('localhost' → 127.0.0.1 without
 * asking DNS). IP literals are kept; IPv6 cannot become IPv4 and stays in brackets.
 * Throws GSYNCD_ERR_BAD_URL "failed to resolve host" when a name does not resolve.
 */
export async function canonicalizeUrl(u: ResourceUrl, options: CanonicalizeOptions = {}): Promise<string> {
  // Re-parsing the normalized form also validates values built by hand rather than parsed.
  const url = parseUrl(normalizeUrl(u));
  const resolve = async (host: string): Promise<string> => {
    if (host === 'localhost') return '127.0.0.1';
    if (isIP(host) !== 0) return hostText(host);
    try {
      return await (options.lookup ?? lookupIPv4)(host);
    } catch (cause) {
      throw gsyncdError('GSYNCD_ERR_BAD_URL', `bad URL '${normalizeUrl(url)}': failed to resolve host '${host}'`, cause);
    }
  };
  const canonical = async (v: ResourceUrl): Promise<string> => {
    switch (v.kind) {
      case 'file':
        return normalizeUrl(v);
      case 'gluster':
        return `gluster://${await resolve(v.host)}:${v.volume}`;
      case 'ssh': {
        const user = v.user ?? options.user ?? currentUser(url);
        const port = v.port === undefined ? '' : `:${v.port}`;
        return `ssh://${user}@${await resolve(v.host)}${port}:${await canonical(v.inner)}`;
      }
    }
  };
  return canonical(url);
}

/** The canonical form passed through quote_plus, for use in file names. */
export async function canonicalizeEscapeUrl(u: ResourceUrl, options: CanonicalizeOptions = {}): Promise<string> {
  return quotePlus(await canonicalizeUrl(u, options));
}

/** Python's urllib.parse.quote_plus: all but `A-Za-z0-9_.-~` as %XX of UTF-8, space as '+'. */
export function quotePlus(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

async function lookupIPv4(host: string): Promise<string> {
  return (await dnsLookup(host, { family: 4 })).address;
}

function currentUser(url: ResourceUrl): string {
  try {
    return userInfo().username;
  } catch (cause) {
    // A container may run as a uid without a passwd entry.
    throw gsyncdError('GSYNCD_ERR_BAD_URL', `bad URL '${normalizeUrl(url)}': no user name for uid ${process.geteuid?.()}; write user@host`, cause);
  }
}
