// What the sshd supervisor decides without touching a process: the restart backoff, how an exit
// reads in the log, which sshd log lines are its own health checks, whether a banner answers,
// and what /proc says about sshd's children. Pure.
import { describeError } from '../core/errors.js';
import { restartDelayMs } from '../core/states.js';

/** A run this long resets the restart backoff. */
export const STABLE_RUN_MS = 60_000;

/** After an exit that ran `ranMs`: short runs in a row (this one included) and the delay before the next start. */
export function nextRestart(consecutive: number, ranMs: number): { consecutive: number; delayMs: number } {
  const n = ranMs >= STABLE_RUN_MS ? 1 : consecutive + 1;
  return { consecutive: n, delayMs: restartDelayMs(n, 1000, 30_000) };
}

/** "sshd <this>; restarting". */
export function describeSshdExit(code: number | null, signal: string | null, err?: unknown): string {
  return err ? `could not be started: ${describeError(err)}` : signal ? `was killed by ${signal}` : `exited with status ${code}`;
}

/** A line sshd logs about a connection from the local port of one of our own probes. */
export function isHealthCheckLine(line: string, probePorts: readonly number[]): boolean {
  return probePorts.some((p) => line.includes(`127.0.0.1 port ${p} `) || line.endsWith(`127.0.0.1 port ${p}`));
}

/** What the server sent so far: null while the identification line is incomplete, else whether it is SSH's. */
export function sshBannerVerdict(received: string): boolean | null {
  if (!received.includes('\n') && received.length <= 255) return null;
  return /^SSH-\d/.test(received);
}

/** /proc/PID/task/PID/children as pids. */
export function parseProcChildren(text: string): number[] {
  return text.split(/\s+/).filter(Boolean).map(Number);
}

/** /proc/PID/stat of a process that has not exited (state after the `(comm)` field is not Z). */
export function statIsAlive(stat: string): boolean {
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}
