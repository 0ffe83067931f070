// Master mode: build the session, run the worker, translate its outcome into an exit status.
import { describeError, isGsyncdError } from '../core/errors.js';
import { createLogger, type Logger } from '../log/logger.js';
import type { ResolvedOptions } from '../options/tunables.js';
import type { SlaveOpener } from '../protocol/connect.js';
import { acquireSessionLock } from '../session/lock.js';
import { readState, writeState } from '../session/state-file.js';
import type { ResourceUrl } from '../url/url.js';
import { openMaster, workerConfig } from './session.js';
import { WORKER_ENV, workerHookProxy } from './worker-ipc.js';
import type { WorkerConfig } from './worker.js';

/** How long an orphaned worker may take to finish a start-up step before it just exits. */
const ORPHAN_EXIT_MS = 10_000;

/**
 * Master mode: sync MASTER to SLAVE. Continuous runs are a monitor (HTTP, metrics, restarts)
 * supervising a worker process; --once / --turns N run the worker in this process. `openSlave`
 * opens the slave URL: the caller chooses the slave side's code, the master sees an endpoint.
 */
export async function runMaster(opts: ResolvedOptions, master: ResourceUrl, slave: ResourceUrl, openSlave: SlaveOpener): Promise<number> {
  const cfg = workerConfig(opts, master, slave);
  const isWorker = process.env[WORKER_ENV] === 'worker';
  const log = createLogger({ level: opts.get('log-level'), file: opts.get('log-file') || undefined, base: { session: cfg.session, role: 'master', ...(isWorker ? { proc: 'worker' } : {}) } });
  if (!cfg.once && cfg.turns === 0 && !isWorker) {
    // Each process loads only its part: the monitor never loads the sync engine or ssh2.
    const { runMonitor } = await import('./monitor.js');
    return runMonitor(opts, master, slave, cfg, log);
  }
  // The IPC channel to the monitor must not keep a finished worker alive.
  if (isWorker) process.channel?.unref();
  // A worker whose monitor is gone (even kill -9) stops rather than run unsupervised. Watched
  // from the very start: the monitor may die while the slave or the master is being opened.
  let stopWorker: (() => void) | null = null;
  let orphaned = false;
  const onOrphaned = () => {
    if (orphaned) return;
    orphaned = true;
    log.warn({ event: 'worker.orphaned' }, 'the monitor is gone: stopping');
    if (stopWorker) stopWorker();
    // Start-up steps are not interruptible; do not let one keep an orphan alive for long.
    else setTimeout(() => process.exit(1), ORPHAN_EXIT_MS).unref();
  };
  if (isWorker) {
    process.once('disconnect', onOrphaned);
    if (!process.connected) onOrphaned();
  }
  if (orphaned) return 1;
  const lock = acquireSessionLock(cfg.sessionDir);
  try {
    return await runWorker(opts, master, slave, openSlave, cfg, log, () => orphaned, (stop) => { stopWorker = stop; });
  } finally {
    lock.release();
  }
}

/** Open both ends and run the worker until it stops, a signal arrives or the monitor goes. */
async function runWorker(
  opts: ResolvedOptions, master: ResourceUrl, slave: ResourceUrl, openSlave: SlaveOpener, cfg: WorkerConfig, log: Logger,
  orphaned: () => boolean, setStop: (stop: () => void) => void,
): Promise<number> {
  const { Worker, WorkerExit } = await import('./worker.js');
  const hooks = workerHookProxy();
  const slaveEndpoint = await openSlave(slave, log, {
    session: cfg.session, onConnected: (up) => hooks.setSlaveConnected(up), onConnectAttempt: (r) => hooks.onSshConnect(r),
  }).catch((err: unknown) => {
    recordStartFailure(cfg, err);
    throw err;
  });
  if (slave.kind !== 'ssh') hooks.setSlaveConnected(true);
  if (orphaned()) { await slaveEndpoint.close(); return 1; }
  let source;
  try {
    source = await openMaster(opts, master, cfg.sessionDir, log, (changed) => hooks.onVerify(changed, Date.now()));
  } catch (err) {
    await slaveEndpoint.close();
    throw err;
  }
  const worker = new Worker(cfg, source, slaveEndpoint, log, hooks);
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) {
      log.fatal({ signal: sig }, 'second signal: aborting now');
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    }
    signalled = true;
    log.info({ signal: sig }, 'stopping: the current pass ends without marking unconfirmed work');
    worker.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // The monitor asks for the idle passes not reported yet when it is scraped (/metrics, /status).
  const onMonitorMessage = (msg: unknown) => { if ((msg as { pull?: unknown } | null)?.pull === 'idle') worker.reportIdle(); };
  process.on('message', onMonitorMessage);
  setStop(() => onSignal('SIGTERM'));
  // Orphaned while the master was opened: run() returns at once and closes both ends.
  if (orphaned()) worker.stop();
  try {
    const code = await worker.run();
    return code === WorkerExit.halted ? 1 : code;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('message', onMonitorMessage);
  }
}

/**
 * The slave could not be opened: say why in the state file (lastError, for `gsyncd status` and
 * the monitor, which reads it when the worker has exited). The Worker, which owns the file
 * afterwards, does not exist yet.
 */
function recordStartFailure(cfg: WorkerConfig, err: unknown): void {
  try {
    const prev = readState(cfg.stateFile);
    writeState(cfg.stateFile, {
      version: 1, session: cfg.session, master: cfg.masterText, slave: cfg.slaveText, crawlState: 'initial',
      initialSyncCompleted: false, restarts: 0, ...prev,
      workerState: 'faulty', pid: process.pid, updatedAt: '',
      lastError: { message: describeError(err), at: new Date().toISOString(), ...(isGsyncdError(err) ? { code: err.code } : {}) },
    });
  } catch {
    // The state directory may be what is broken: the error itself is reported by the caller.
  }
}
