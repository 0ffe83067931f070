// The monitor: supervises one worker process per session, restarts it with exponential backoff
// when it dies (kill -9 included), records `faulty` and the restart count in the state file, and
// owns the HTTP endpoints and metrics so they stay up while a worker restarts. The worker reports
// its events over the IPC channel; the monitor feeds them into the metrics.
import { spawn, type ChildProcess } from 'node:child_process';
import { describeError, gsyncdError } from '../core/errors.js';
import { latchedHalts } from '../core/safety.js';
import { giveUpAfter, restartDelayMs } from '../core/states.js';
import type { Logger } from '../log/logger.js';
import { buildHttpServer, check, heartbeatCheck, livenessWindowMs, startHttp } from '../observe/http.js';
import { createMetrics } from '../observe/metrics.js';
import { computeStatus } from '../observe/status.js';
import { packageVersion } from '../options/package-info.js';
import type { ResolvedOptions } from '../options/tunables.js';
import { readState, writeState, type SessionState } from '../session/state-file.js';
import type { ResourceUrl } from '../url/url.js';
import { attachMasterMetrics, sessionInfoOf } from './master-metrics.js';
import { WORKER_ENV, type HookMessage } from './worker-ipc.js';
import type { WorkerConfig } from './worker.js';

/** A worker that ran this long before dying starts a fresh backoff series. */
const STABLE_RUN_MS = 60_000;

/** How long a scrape waits for the worker's idle report (WorkerHooks.onIdle) before answering. */
const IDLE_PULL_TIMEOUT_MS = 250;

export async function runMonitor(opts: ResolvedOptions, master: ResourceUrl, slave: ResourceUrl, cfg: WorkerConfig, log: Logger): Promise<number> {
  const version = packageVersion();
  const metrics = createMetrics('master', { version, log });
  const hooks = attachMasterMetrics(metrics, { session: cfg.session, brick: '0', ...sessionInfoOf(master, slave, opts.get('sync-method')) });
  // A first run has no state file yet; the worker may take long to write one (a slave that
  // cannot be reached is retried before the worker exists): start from a fresh state, so that
  // readiness and /status do not depend on the slave.
  let state: SessionState | null = readState(cfg.stateFile) ?? freshState(cfg);
  if (state?.monitorGaveUp) delete state.monitorGaveUp; // a new run: the worker writes it afresh
  if (state) hooks.onState(state);
  let stopping = false;
  let lastBeat = Date.now();
  const beat = setInterval(() => { lastBeat = Date.now(); }, 1000);
  const changeIntervalMs = cfg.changeIntervalMs;
  // How long a stopping worker may take before it is killed (OBSERVABILITY §6 budget).
  const shutdownTimeoutMs = opts.get('shutdown-timeout') * 1000;
  const maxFailures = opts.get('max-failures');
  const readyRequiresSlave = opts.get('ready-requires-slave');
  let child: ChildProcess | null = null;
  // Idle passes are reported in bulk (WorkerHooks.onIdle): a scrape asks for the latest first.
  let idleWaiters: (() => void)[] = [];
  const refresh = (): Promise<void> => new Promise<void>((resolve) => {
    const c = child;
    if (!c?.connected) { resolve(); return; }
    const done = () => { clearTimeout(timer); idleWaiters = idleWaiters.filter((w) => w !== done); resolve(); };
    const timer = setTimeout(done, IDLE_PULL_TIMEOUT_MS);
    idleWaiters.push(done);
    try { c.send({ pull: 'idle' }); } catch { done(); }
  });
  const app = buildHttpServer({
    registry: metrics.registry, role: 'master', logger: log, refresh,
    status: () => computeStatus({
      role: 'master', version, now: Date.now(), source: 'daemon',
      thresholds: { inSyncLagS: opts.get('in-sync-lag'), stallTimeoutS: opts.get('stall-timeout') },
      workers: state ? [{ state, live: hooks.live() }] : [],
    }),
    checks: {
      live: () => [heartbeatCheck('supervisor', lastBeat, livenessWindowMs(changeIntervalMs))],
      ready: () => [
        check('state', state !== null, 'loading'),
        check('halt', !(state?.halt && latchedHalts.includes(state.halt.reason)), state?.halt?.reason),
        check('shutdown', !stopping, 'shutting_down'),
        ...(readyRequiresSlave ? [check('slave', hooks.live().slaveConnected === true, 'slave_unreachable')] : []),
      ],
    },
  });
  const address = await startHttp(app, { bind: opts.get('http-bind'), explicit: opts.sourceOf('http-bind').from !== 'default', log });
  if (address) log.info({ address }, 'http endpoints listening');

  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig, event: 'shutdown.begin' }, 'stopping the worker');
    child?.kill('SIGTERM');
    // A worker that does not stop in time is killed: nothing unconfirmed was marked anyway.
    setTimeout(() => {
      if (child) log.warn({ pid: child.pid }, 'worker did not stop in time: SIGKILL');
      child?.kill('SIGKILL');
    }, shutdownTimeoutMs).unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  let consecutive = 0;
  let exitCode = 0;
  /** Set when the monitor stopped on a slave command that cannot start: the one line main prints. */
  let gaveUp: string | null = null;
  try {
    while (!stopping) {
      const started = Date.now();
      child = spawnWorker();
      child.on('message', (msg: HookMessage) => {
        const fn = hooks[msg?.hook] as ((...a: unknown[]) => void) | undefined;
        if (typeof fn !== 'function') return;
        if (msg.hook === 'onState') state = msg.args[0] as SessionState;
        try { fn(...msg.args); } catch (err) { log.warn({ err, hook: msg.hook }, 'metrics hook failed'); }
        if (msg.hook === 'onIdle') for (const w of [...idleWaiters]) w();
      });
      const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        child!.once('exit', (c, s) => resolve({ code: c, signal: s }));
      });
      child = null;
      hooks.setSlaveConnected(false);
      if (stopping) break;
      if (code === 0) break; // the worker finished by itself (it was told to stop)
      consecutive = Date.now() - started >= STABLE_RUN_MS ? 1 : consecutive + 1;
      const delay = restartDelayMs(consecutive);
      const why = signal ? `killed by ${signal}` : `exited with status ${code}`;
      state = markFaulty(cfg, why, state, started);
      const cannotStart = state.lastError?.code === 'GSYNCD_ERR_SLAVE_COMMAND' ? state.lastError.message : null;
      const budget = giveUpAfter(maxFailures, cannotStart !== null);
      if (budget > 0 && consecutive >= budget) {
        // A crash loop the orchestrator can see (exit 69) beats retrying silently forever.
        state = markGaveUp(cfg, state, consecutive);
        hooks.onState(state);
        const limit = maxFailures > 0 ? `--max-failures ${maxFailures}` : 'the slave command cannot start';
        log.error({ event: 'monitor.gave_up', failures: consecutive, reason: state.lastError?.message ?? why }, `worker failed ${consecutive} times in a row (${limit}): giving up`);
        exitCode = 69;
        if (cannotStart !== null) gaveUp = `${cannotStart} (${consecutive} attempts)`;
        break;
      }
      hooks.onState(state);
      log.error({ event: 'worker.state', state: 'faulty', reason: cannotStart ?? why, restartInMs: delay, restarts: state.restarts }, `worker ${why}; restarting`);
      await sleepUnless(delay, () => stopping);
    }
  } catch (err) {
    log.error({ err }, `monitor failed: ${describeError(err)}`);
    exitCode = 1;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    clearInterval(beat);
    await app.close();
    log.info({ event: 'shutdown.done' }, 'monitor stopped');
  }
  if (gaveUp !== null) throw gsyncdError('GSYNCD_ERR_SLAVE_COMMAND', gaveUp);
  return exitCode;
}

/** Same program, same arguments, marked as the worker; logs go to our stdout/stderr. */
function spawnWorker(): ChildProcess {
  return spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
    env: { ...process.env, [WORKER_ENV]: 'worker' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function freshState(cfg: WorkerConfig): SessionState {
  return {
    version: 1, session: cfg.session, master: cfg.masterText, slave: cfg.slaveText, workerState: 'initializing',
    crawlState: 'initial', pid: process.pid, updatedAt: new Date().toISOString(), initialSyncCompleted: false, restarts: 0,
  };
}

/** The worker's own lastError, when it wrote one after `startedMs` (a start failure), is kept as the reason. */
function markFaulty(cfg: WorkerConfig, why: string, known: SessionState | null, startedMs: number): SessionState {
  const file = cfg.stateFile;
  const s: SessionState = readState(file) ?? known ?? freshState(cfg);
  const own = s.lastError?.code !== undefined && Date.parse(s.lastError.at) >= startedMs ? s.lastError : undefined;
  s.workerState = 'faulty';
  s.restarts = (s.restarts ?? 0) + 1;
  s.lastError = own ?? { message: `worker ${why}`, at: new Date().toISOString() };
  writeState(file, s);
  return s;
}

function markGaveUp(cfg: WorkerConfig, s: SessionState, failures: number): SessionState {
  s.monitorGaveUp = { at: new Date().toISOString(), failures };
  writeState(cfg.stateFile, s);
  return s;
}

async function sleepUnless(ms: number, stop: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!stop() && Date.now() < until) await new Promise((r) => setTimeout(r, Math.min(200, until - Date.now())));
}
