// Where the installation lives. This file sits in src/cli (tsx) or dist/cli (built), so the
// package root is two levels up either way; conf/ and package.json ship next to them.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Used when no -c is given; may be absent. */
export const defaultConfigPath = join(packageRoot, 'conf', 'gsyncd.conf');

export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version?: string };
  return manifest.version ?? 'unknown';
}

/** The installed entry point; bin/gsyncd.js is what users run, in a checkout and in a package. */
export const binScript = join(packageRoot, 'bin', 'gsyncd.js');

/**
 * The command that runs this gsyncd on a host with the same layout, as the original's default
 * (the absolute path of the running program): this node binary and this bin script. Not
 * `env node`: a non-interactive ssh session's PATH often lacks the node a user runs (nvm). A
 * path with whitespace cannot survive the whitespace split of --remote-gsyncd: then `gsyncd`.
 */
export function remoteGsyncdFor(execPath: string, script: string): string {
  return /\s/.test(execPath + script) ? 'gsyncd' : `${execPath} ${script}`;
}

export function defaultRemoteGsyncd(): string {
  return remoteGsyncdFor(process.execPath, binScript);
}
