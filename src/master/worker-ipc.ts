// The worker's side of the monitor link: kept apart from monitor.ts so that a worker does not
// load the monitor's HTTP and metrics stack (fastify, prom-client) it never uses.
import type { MasterMetricsHooks } from './master-metrics.js';

/** Environment marker: this process is the worker a monitor spawned. */
export const WORKER_ENV = 'GSYNCD_ROLE';

/** Hook calls the worker forwards to the monitor (see workerHookProxy). */
export interface HookMessage {
  readonly hook: keyof MasterMetricsHooks;
  readonly args: unknown[];
}

/**
 * In the worker: hooks that forward every call to the monitor over IPC (JSON-serialisable
 * arguments only). Without an IPC channel (a one-shot run) they do nothing.
 */
export function workerHookProxy(): MasterMetricsHooks {
  return new Proxy({} as MasterMetricsHooks, {
    get: (_t, hook: string) => (...args: unknown[]) => {
      if (hook === 'live') return undefined;
      if (process.send && process.connected) process.send({ hook, args } satisfies { hook: string; args: unknown[] });
      return undefined;
    },
  });
}
