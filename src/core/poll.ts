// How long the worker waits between change-detection passes on an idle master. Pure.

/** After this long without a change, an idle master is polled less often. */
export const IDLE_SLOWDOWN_AFTER_MS = 10_000;

/** The slowed-down pause is at most this (and never shorter than change-interval). */
export const IDLE_PAUSE_CAP_MS = 1_000;

/**
 * The pause before the next pass: change-interval, doubled (to at most 1 s) once the master has
 * been idle for 10 s. A poll of a GlusterFS master costs ~0.5 ms of CPU (a getxattr through the
 * mount, a timer): at 0.5 s that is most of an idle session's CPU. A change made during a busy
 * spell is still seen within change-interval, one after a quiet spell within 1 s.
 */
export function pauseBeforeNextPass(changeIntervalMs: number, idleForMs: number): number {
  if (idleForMs < IDLE_SLOWDOWN_AFTER_MS) return changeIntervalMs;
  return Math.max(changeIntervalMs, Math.min(2 * changeIntervalMs, IDLE_PAUSE_CAP_MS));
}
