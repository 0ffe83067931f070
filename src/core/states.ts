// Explicit state enums (mutagen's lesson: a session is always in exactly one named state).
export const workerStates = ['initializing', 'active', 'passive', 'faulty', 'halted', 'paused', 'stopped'] as const;
export type WorkerState = (typeof workerStates)[number];

export const crawlStates = ['initial', 'xtime', 'watch', 'verify', 'idle'] as const;
export type CrawlState = (typeof crawlStates)[number];

/** Monitor restart delay: exponential, capped, reset after a worker ran long enough. */
export function restartDelayMs(consecutiveFailures: number, baseMs = 1000, maxMs = 60_000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, consecutiveFailures - 1));
}

/**
 * Attempts at a slave command that cannot start (GSYNCD_ERR_SLAVE_COMMAND) when --max-failures
 * is 0: it will not fix itself, but a slave host being set up may get there (1+2+4+8 s of backoff).
 */
export const SLAVE_COMMAND_ATTEMPTS = 5;

/** Consecutive worker failures after which the monitor stops (0 = never). */
export function giveUpAfter(maxFailures: number, slaveCommandCannotStart: boolean): number {
  if (maxFailures > 0) return maxFailures;
  return slaveCommandCannotStart ? SLAVE_COMMAND_ATTEMPTS : 0;
}
