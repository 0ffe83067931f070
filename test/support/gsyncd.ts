// Running the real gsyncd program (the built dist/, as users run it) from tests.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const GSYNCD_BIN = fileURLToPath(new URL('../../bin/gsyncd.js', import.meta.url));

function assertBuilt(): void {
  if (!fs.existsSync(new URL('../../dist/cli/main.js', import.meta.url))) {
    throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  }
}

export interface GsyncdResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** argv that runs gsyncd, optionally inside a network namespace (`prefix` e.g. ip netns exec NS). */
function command(args: string[], prefix: readonly string[] = []): [string, string[]] {
  const full = [...prefix, process.execPath, GSYNCD_BIN, ...args];
  return [full[0]!, full.slice(1)];
}

export function gsyncd(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string; prefix?: readonly string[] } = {}): Promise<GsyncdResult> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    const [cmd, argv] = command(args, opts.prefix);
    const child = spawn(cmd, argv, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
    child.stdin.end(opts.input ?? '');
  });
}

export interface RunningGsyncd {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** SIGTERM and wait; resolves to the exit code. */
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
}

export function startGsyncd(args: string[], env: NodeJS.ProcessEnv = {}, prefix: readonly string[] = []): RunningGsyncd {
  assertBuilt();
  const [cmd, argv] = command(args, prefix);
  const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Parsed NDJSON log lines with a given msg. */
export function logLines(output: string, msg?: string): Record<string, unknown>[] {
  return output.split('\n').filter((l) => l.startsWith('{')).map((l) => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return {}; } })
    .filter((o) => msg === undefined || o['msg'] === msg);
}
