// OpenSSH known_hosts matching (plain and hashed `|1|salt|hash` entries, `[host]:port`,
// wildcards and negation, @revoked). The one host-key decision for a session happens here.
import crypto from 'node:crypto';

export interface KnownKey {
  readonly type: string;
  /** Base64 of the public key blob, as it appears in known_hosts. */
  readonly key: string;
  readonly revoked: boolean;
}

/** The name known_hosts uses for a host: `host` on port 22, else `[host]:port`. */
export function hostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globToRegExp(glob: string): RegExp {
  const rx = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${rx}$`, 'i');
}

function hashedMatches(field: string, name: string): boolean {
  const m = /^\|1\|([^|]+)\|([^|]+)$/.exec(field);
  if (!m) return false;
  const salt = Buffer.from(m[1]!, 'base64');
  const want = Buffer.from(m[2]!, 'base64');
  const got = crypto.createHmac('sha1', salt).update(name).digest();
  return got.length === want.length && crypto.timingSafeEqual(got, want);
}

function hostsFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) return hashedMatches(field, name);
  let matched = false;
  for (const pat of field.split(',')) {
    const negated = pat.startsWith('!');
    if (globToRegExp(negated ? pat.slice(1) : pat).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** Keys known for `host` (any of the names it may be listed under) in the file's text. */
export function knownKeysFor(text: string, names: string[]): KnownKey[] {
  const out: KnownKey[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    let marker = '';
    if (parts[0]?.startsWith('@')) marker = parts.shift()!;
    if (marker === '@cert-authority') continue; // certificates are not supported: never trusted
    const [hosts, type, key] = parts;
    if (!hosts || !type || !key) continue;
    if (names.some((n) => hostsFieldMatches(hosts, n))) out.push({ type, key, revoked: marker === '@revoked' });
  }
  return out;
}

export type HostKeyVerdict = { ok: true } | { ok: false; reason: 'unknown' | 'changed' | 'revoked'; message: string };

/** Decide on a presented key blob. `unknown` = no entry at all for the host; `changed` = entries exist but none matches. */
export function verifyHostKey(text: string, names: string[], presented: Buffer): HostKeyVerdict {
  const keys = knownKeysFor(text, names);
  const b64 = presented.toString('base64');
  const fp = 'SHA256:' + crypto.createHash('sha256').update(presented).digest('base64').replace(/=+$/, '');
  if (keys.some((k) => k.revoked && k.key === b64)) return { ok: false, reason: 'revoked', message: `host key ${fp} of ${names[0]} is marked @revoked` };
  if (keys.some((k) => !k.revoked && k.key === b64)) return { ok: true };
  if (keys.filter((k) => !k.revoked).length === 0) {
    return { ok: false, reason: 'unknown', message: `host ${names[0]} is not in known_hosts (key ${fp}); add it, or opt in with --ssh-accept-new-host-key` };
  }
  return { ok: false, reason: 'changed', message: `HOST KEY OF ${names[0]} HAS CHANGED (presented ${fp}); refusing to connect` };
}

/** Key types known for the host, in the order to offer them (so negotiation picks a known one). */
export function knownKeyTypes(text: string, names: string[]): string[] {
  return [...new Set(knownKeysFor(text, names).filter((k) => !k.revoked).map((k) => k.type))];
}

/** A known_hosts line for a key (used when the user opted in to accept a new key). */
export function knownHostsLine(names: string[], type: string, blob: Buffer): string {
  return `${names.join(',')} ${type} ${blob.toString('base64')}`;
}
