// Master mode: build the session, run the worker, translate its outcome into an exit status.
import type { ResolvedOptions } from '../cli/options.js';
import { createLogger } from '../observe/logger.js';
import type { ResourceUrl } from '../url/url.js';
import { openMaster, openSlave, workerConfig } from './session.js';
import { Worker, WorkerExit } from './worker.js';

/** Master mode: sync MASTER to SLAVE (continuous, or --once / --turns N). Resolves to an exit status. */
export async function runMaster(opts: ResolvedOptions, master: ResourceUrl, slave: ResourceUrl): Promise<number> {
  const cfg = workerConfig(opts, master, slave);
  const log = createLogger({ level: opts.get('log-level'), file: opts.get('log-file') || undefined, base: { session: cfg.session, role: 'master' } });
  const slaveEndpoint = await openSlave(opts, slave, log, { session: cfg.session });
  let source;
  try {
    source = await openMaster(opts, master, cfg.sessionDir, log);
  } catch (err) {
    await slaveEndpoint.close();
    throw err;
  }
  const worker = new Worker(cfg, source, slaveEndpoint, log);
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
  try {
    const code = await worker.run();
    return code === WorkerExit.halted ? 1 : code;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
