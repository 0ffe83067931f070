// Process, polling, port, temp-dir and teardown helpers shared by every integration test.
//
// Nothing here goes through a shell: commands are an executable plus an argument vector.
// Teardown is a LIFO stack (`cleanup`) that the test file's root `after` hook drains, so what a
// test set up is torn down even when the test fails; SIGINT/SIGTERM drain it too.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** Base directory of everything the tests create on disk (on the root filesystem, not tmpfs:
 *  gluster bricks live here). Override with GSYNCD_TEST_TMPDIR. */
export const TEST_TMP_BASE = process.env['GSYNCD_TEST_TMPDIR'] ?? '/var/tmp/gsyncd-test';

export interface RunOptions {
  /** Kill the command (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
  /** Written to stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string | Buffer;
  cwd?: string;
  /** Replaces the environment (default: inherit). */
  env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  /** Exit status, or null when killed by a signal (see `signal`, `timedOut`). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Quote an argv for messages (never executed). */
export function describeCommand(cmd: string, args: readonly string[] = []): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/**
 * Run `cmd args` (no shell), collect stdout/stderr as UTF-8. Resolves on exit whatever the status;
 * rejects only when the command cannot be started (e.g. ENOENT). A command that daemonizes and
 * leaves its stdio to a child (glusterd, glusterfs) is handled: after the command exits, we wait
 * at most 200 ms for its pipes to close.
 */
export function run(cmd: string, args: readonly string[] = [], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    let settled = false;
    let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let grace: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const finish = () => {
      if (settled || !exitInfo) return;
      settled = true;
      clearTimeout(timer);
      if (grace) clearTimeout(grace);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve({
        ...exitInfo,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    };
    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`cannot run ${describeCommand(cmd, args)}: ${e.message}`, { cause: e }));
    });
    child.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      grace = setTimeout(finish, 200);
    });
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      exitInfo ??= { code, signal };
      finish();
    });
    if (opts.input !== undefined) {
      child.stdin?.on('error', () => {}); // EPIPE when the command does not read its input
      child.stdin?.end(opts.input);
    }
  });
}

/** A command that did not exit 0. */
export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    const why = result.timedOut
      ? 'timed out'
      : result.code === null
        ? `was killed by ${result.signal}`
        : `exited ${result.code}`;
    const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-15).join('\n');
    super(`${command} ${why}${detail ? `:\n${detail}` : ''}`);
    this.name = 'CommandError';
  }
}

/** `run`, but throws CommandError (with the command line and the tail of stderr) unless exit 0. */
export async function mustRun(cmd: string, args: readonly string[] = [], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new CommandError(describeCommand(cmd, args), r);
  return r;
}

export interface WaitForOptions {
  /** What we are waiting for, used in the timeout error ("glusterd to answer"). */
  what: string;
  timeoutMs?: number; // default 30 s
  intervalMs?: number; // default 100 ms
}

/**
 * Poll `predicate` until it returns a truthy value, and return that value. A predicate that
 * throws counts as "not yet"; its last error is quoted in the timeout error.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  { what, timeoutMs = 30_000, intervalMs = 100 }: WaitForOptions,
): Promise<NonNullable<T>> {
  const start = Date.now();
  let lastError: unknown;
  for (;;) {
    try {
      const v = await predicate();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() - start >= timeoutMs) {
      const last = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last}`, { cause: lastError });
    }
    await sleep(intervalMs);
  }
}

/** Whether process `pid` exists and is not a zombie (read from /proc). */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** A TCP port that was free on `host` (default 127.0.0.1) a moment ago. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

type Teardown = () => unknown | Promise<unknown>;
/** Every stack ever made, oldest first: a signal drains them all, newest first. */
const allStacks: CleanupStack[] = [];

/** LIFO teardown stack. `run()` calls every registered function even if some fail, then throws
 *  an AggregateError naming the failed ones. After `run()` the stack is empty and reusable. */
export class CleanupStack {
  private readonly items: { what: string; fn: Teardown }[] = [];

  constructor() {
    allStacks.push(this);
  }

  /** Register `fn`; it runs before everything registered earlier. Returns `fn`'s runner, which
   *  runs it now (once) and removes it from the stack, for tests that tear down mid-way. */
  defer(what: string, fn: Teardown): () => Promise<void> {
    const item = { what, fn };
    this.items.push(item);
    return async () => {
      const i = this.items.indexOf(item);
      if (i < 0) return;
      this.items.splice(i, 1);
      await fn();
    };
  }

  get size(): number {
    return this.items.length;
  }

  async run(): Promise<void> {
    const errors: Error[] = [];
    for (let item = this.items.pop(); item; item = this.items.pop()) {
      try {
        await item.fn();
      } catch (e) {
        errors.push(new Error(`cleanup "${item.what}" failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, errors.map((e) => e.message).join('\n'));
  }
}

/** The test file's stack: drained by a root-level `after` hook (after all tests of the file,
 *  also when they fail) and on SIGINT/SIGTERM. Helpers register on it by default. */
export const cleanup = new CleanupStack();
after(() => cleanup.run());
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    const hardStop = setTimeout(() => process.exit(128 + (sig === 'SIGINT' ? 2 : 15)), 30_000);
    hardStop.unref();
    void (async () => {
      console.error(`${sig}: running test cleanup`);
      for (const stack of [...allStacks].reverse()) await stack.run().catch((e: unknown) => console.error(e));
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    })();
  });
}

/** A stack drained after one test: `const c = testCleanup(t)`. */
export function testCleanup(t: { after(fn: () => unknown): void }): CleanupStack {
  const stack = new CleanupStack();
  t.after(() => stack.run());
  return stack;
}

/** Long-running children we spawned: killed (SIGKILL) if the process exits without stopping them. */
const spawnedDaemons = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of spawnedDaemons) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
/** Track a long-running child so it cannot outlive the test process. */
export function trackDaemon(child: ChildProcess): void {
  spawnedDaemons.add(child);
  child.once('exit', () => spawnedDaemons.delete(child));
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mounts). */
export function mountsBelow(dir: string): string[] {
  const d = dir.replace(/\/+$/, '');
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1])
    .filter((m): m is string => !!m)
    .map((m) => m.replace(/\\([0-7]{3})/g, (_s, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m === d || m.startsWith(`${d}/`))
    .sort((a, b) => b.length - a.length);
}

/** Is `dir` a mount point right now? */
export function isMountPoint(dir: string): boolean {
  return mountsBelow(dir).includes(dir.replace(/\/+$/, ''));
}

/** Unmount `dir` (plain umount, a few retries while busy, then umount -l). No-op if not mounted. */
export async function unmount(dir: string): Promise<void> {
  for (let i = 0; i < 5 && isMountPoint(dir); i++) {
    const r = await run('umount', [dir], { timeoutMs: 30_000 });
    if (r.code === 0) return;
    await sleep(200);
  }
  if (isMountPoint(dir)) await mustRun('umount', ['-l', dir], { timeoutMs: 30_000 });
}

/** rm -rf that never crosses into a mount: mounts below `dir` are unmounted first (lazily if
 *  needed) and removal stays on one filesystem. */
export async function removeTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const m of mountsBelow(dir)) await unmount(m);
  const still = mountsBelow(dir);
  if (still.length) throw new Error(`not removing ${dir}: still mounted below it: ${still.join(', ')}`);
  await mustRun('rm', ['-rf', '--one-file-system', '--', dir], { timeoutMs: 120_000 });
}

let staleTmpReaped = false;
/** Remove tmpDir leftovers of test processes that no longer exist (crashed runs). */
async function reapStaleTmpDirs(): Promise<void> {
  if (staleTmpReaped) return;
  staleTmpReaped = true;
  for (const name of readdirSync(TEST_TMP_BASE)) {
    const m = /^.+\.p(\d+)\.[A-Za-z0-9]{6}$/.exec(name);
    if (!m || existsSync(`/proc/${m[1]}`)) continue;
    const dir = join(TEST_TMP_BASE, name);
    if (mountsBelow(dir).length) continue; // someone's mount: leave it alone
    await run('rm', ['-rf', '--one-file-system', '--', dir], { timeoutMs: 120_000 });
  }
}

/**
 * A fresh directory `TEST_TMP_BASE/<prefix>.p<pid>.XXXXXX`, removed (with removeTree) by
 * `stack` (default: the file's `cleanup`). Leftovers of dead test processes are reaped on the
 * first call.
 */
export async function tmpDir(prefix = 'tmp', stack: CleanupStack = cleanup): Promise<string> {
  await mkdir(TEST_TMP_BASE, { recursive: true });
  await reapStaleTmpDirs();
  const dir = await mkdtemp(join(TEST_TMP_BASE, `${prefix.replace(/[^\w-]/g, '_')}.p${process.pid}.`));
  stack.defer(`remove ${dir}`, () => removeTree(dir));
  return dir;
}

/**
 * Take an exclusive flock(1) on `lockPath` (created if needed), waiting up to `timeoutMs`.
 * Returns the release function. flock holds the lock while its `cat` child waits on our pipe,
 * so the lock is also released when this process dies, however it dies.
 */
export async function fileLock(lockPath: string, { timeoutMs = 600_000, what = lockPath } = {}): Promise<() => Promise<void>> {
  await mkdir(dirname(lockPath), { recursive: true });
  const holder = spawn('flock', ['-w', String(Math.ceil(timeoutMs / 1000)), lockPath, 'cat'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  trackDaemon(holder);
  let stderr = '';
  holder.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((res) => holder.on('close', (code) => res(code)));
  await new Promise<void>((resolve, reject) => {
    holder.on('error', (e) => reject(new Error(`cannot run flock: ${e.message}`)));
    holder.stdout.once('data', () => resolve());
    void exited.then((code) => reject(new Error(`could not lock ${what} (${lockPath}, flock exit ${code}): ${stderr.trim()}`)));
    holder.stdin.write('locked\n');
  });
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    holder.stdin.end();
    await exited;
  };
}

/** Throw (never skip) unless we are root: integration tests mount, create namespaces, etc. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `this integration test must run as root (uid is ${process.getuid?.()}): it starts glusterd/sshd, ` +
        'makes FUSE mounts and network namespaces. Run `bash scripts/test.sh` as root.',
    );
  }
}

/** Throw listing every missing executable (searched on PATH and in /usr/sbin, /sbin). */
export function requireTools(tools: readonly string[]): void {
  const dirs = [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/sbin'].filter(Boolean);
  const missing = tools.filter((t) => (t.includes('/') ? !existsSync(t) : !dirs.some((d) => existsSync(join(d, t)))));
  if (missing.length) {
    throw new Error(`missing tools: ${missing.join(', ')} (bash scripts/test.sh installs them with apt-get)`);
  }
}
