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
