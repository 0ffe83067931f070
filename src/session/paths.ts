// Where a session keeps its state: one directory per session (named for the master/slave pair
// unless --session-name says otherwise), the state file inside it unless --state-file moves it.
import os from 'node:os';
import path from 'node:path';
import type { ResolvedOptions } from '../options/tunables.js';
import { sessionKey } from '../url/pair.js';
import type { ResourceUrl } from '../url/url.js';

export interface SessionPaths {
  readonly session: string;
  readonly sessionDir: string;
  readonly stateFile: string;
}

export function sessionPaths(opts: ResolvedOptions, master: ResourceUrl, slave: ResourceUrl): SessionPaths {
  const session = opts.get('session-name') || sessionKey(master, slave);
  const base = opts.get('state-dir') || defaultStateDir();
  const sessionDir = path.join(base, session);
  const stateFile = opts.get('state-file') || path.join(sessionDir, 'state.json');
  return { session, sessionDir, stateFile };
}

export function defaultStateDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/gsyncd' : path.join(os.homedir(), '.local', 'state', 'gsyncd');
}
