// Runs main() in-process with captured output, a fake engine and a private temp directory.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.js';
import type { ResolvedOptions } from '../../../src/options/tunables.js';
import type { ResourceUrl } from '../../../src/url/url.js';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** What the fake runMaster/runSlave received, if it was called. */
  readonly engine?: { readonly mode: 'master' | 'slave'; readonly opts: ResolvedOptions; readonly urls: readonly ResourceUrl[] };
}

export interface CliSetup {
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** Stands in for conf/gsyncd.conf of the installation (default: a path that does not exist). */
  readonly defaultConfigFile?: string;
}

export async function runCli(argv: string[], setup: CliSetup = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  let engine: CliRun['engine'];
  const code = await main(argv, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: setup.env ?? {},
    cwd: setup.cwd ?? tmpdir(),
    defaultConfigFile: setup.defaultConfigFile ?? join(tmpdir(), 'gsyncd-test-no-such-dir', 'gsyncd.conf'),
    runMaster: async (opts, master, slave) => {
      engine = { mode: 'master', opts, urls: [master, slave] };
      return 0;
    },
    runSlave: async (opts, root) => {
      engine = { mode: 'slave', opts, urls: [root] };
      return 0;
    },
  });
  return { code, stdout, stderr, ...(engine === undefined ? {} : { engine }) };
}

/** A fresh directory, removed after `body`. */
export async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'gsyncd-cli-'));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
