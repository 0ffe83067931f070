// Explicit state enums (mutagen's lesson: a session is always in exactly one named state).
export const workerStates = ['initializing', 'active', 'passive', 'faulty', 'halted', 'paused', 'stopped'] as const;
export type WorkerState = (typeof workerStates)[number];

export const crawlStates = ['initial', 'xtime', 'watch', 'verify', 'idle'] as const;
export type CrawlState = (typeof crawlStates)[number];

/** Monitor restart delay: exponential, capped, reset after a worker ran long enough. */
export function restartDelayMs(consecutiveFailures: number, baseMs = 1000, maxMs = 60_000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, consecutiveFailures - 1));
}
