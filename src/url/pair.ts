// Which URLs may be paired as master and slave, and the default session name of a pair.

import { createHash } from 'node:crypto';
import { gsyncdError } from '../core/errors.js';
import { normalizeUrl, type ResourceUrl } from './url.js';

/**
 * Role matrix: the master is local, a gluster volume or (unlike the original) a plain
 * directory; the slave is a directory, a gluster volume, or either of them behind ssh.
 * Also refuses the pairs that would feed a sync into itself. Throws GSYNCD_ERR_URL_PAIR.
 */
export function checkPair(master: ResourceUrl, slave: ResourceUrl): void {
  const reason = pairProblem(master, slave);
  if (reason !== undefined) {
    throw gsyncdError('GSYNCD_ERR_URL_PAIR', `${normalizeUrl(master)} cannot work with ${normalizeUrl(slave)}: ${reason}`);
  }
}

function pairProblem(master: ResourceUrl, slave: ResourceUrl): string | undefined {
  if (master.kind === 'ssh') return 'the master must be local (a gluster volume or a directory), not ssh';
  if (normalizeUrl(master) === normalizeUrl(slave)) return 'master and slave are the same';
  // A slave directory inside the master would be copied into itself, and so on, forever.
  if (master.kind === 'file' && slave.kind === 'file' && (within(master.path, slave.path) || within(slave.path, master.path))) {
    return 'one directory contains the other';
  }
  return undefined;
}

function within(dir: string, path: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}

const SESSION_MAX = 63;

/**
 * Default session name (OBSERVABILITY.md §3.2). Volume to volume: lower-cased
 * `<mastervol>_<slavehost>_<slavevol>`, where slavehost is the machine the slave is reached on
 * (the ssh host, else the gluster server), squeezed into `[a-z0-9][a-z0-9_.-]{0,62}`; a name
 * that had to be cut keeps 54 characters plus '-' and 8 hex of the pair's hash, so two long
 * pairs do not collide. Anything else: `s-` + 8 hex of sha256 of the two normalized URLs
 * (normalized, not canonical: a session name must not change with DNS).
 */
export function sessionKey(master: ResourceUrl, slave: ResourceUrl): string {
  const hash = createHash('sha256').update(`${normalizeUrl(master)} ${normalizeUrl(slave)}`).digest('hex').slice(0, 8);
  const slaveVolume = slave.kind === 'ssh' ? (slave.inner.kind === 'gluster' ? slave.inner.volume : undefined)
    : slave.kind === 'gluster' ? slave.volume : undefined;
  if (master.kind !== 'gluster' || slave.kind === 'file' || slaveVolume === undefined) return `s-${hash}`;
  const name = `${master.volume}_${slave.host}_${slaveVolume}`
    .toLowerCase()
    .replace(/[^a-z0-9_.-]/g, '_')
    .replace(/^[^a-z0-9]+/, '');
  if (name === '') return `s-${hash}`;
  return name.length <= SESSION_MAX ? name : `${name.slice(0, SESSION_MAX - 9)}-${hash}`;
}
