// `gsyncd slave-agent ROOT`: the long-running process of the slave container (OBSERVABILITY §3.4,
// §4, §6, §7). It
//   - prepares sshd: host keys copied from --host-keys (mode 0600: Kubernetes Secret files are
//     symlinks with modes sshd refuses) or a throwaway key kept in the state dir; the
//     authorized_keys copy (plain keys get the forced dispatcher command); an sshd_config —
//     unless --sshd-config names one to use as it is (agent-sshd-prepare.ts, agent-sshd-config.ts);
//   - runs `sshd -D -e -f CONFIG` as a child, restarts it with backoff when it dies, forwards its
//     stderr lines to the log (info, field `sshd`) and reports gsyncd_slave_sshd_up (1 while the
//     child is alive and answers with an SSH banner on loopback, checked every few seconds)
//     (agent-sshd-supervisor.ts, agent-sshd-restart.ts);
//   - aggregates the NDJSON session events of `gsyncd --slave` and the dispatcher
//     (agent-events.ts) from a UNIX socket into the slave metrics (agent-socket.ts, agent-core.ts);
//   - serves /metrics, /livez, /readyz (sshd accepting on loopback, root writable), /healthz,
//     /status on --http-bind (agent-http.ts, agent-status.ts);
//   - on SIGTERM/SIGINT: /readyz 503, SIGTERM sshd and its session processes, close the event
//     socket, close HTTP last, exit 0. A second signal aborts (exit 128+n).
//
// This file wires them together and re-exports their API (the CLI and the tests import it here).
import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { describeError, gsyncdError } from '../core/errors.js';
import { createLogger } from '../log/logger.js';
import { startHttp } from '../observe/http.js';
import { createMetrics } from '../observe/metrics.js';
import { packageVersion } from '../options/package-info.js';
import { agentUsage, parseAgentArgs } from './agent-args.js';
import { AgentCore } from './agent-core.js';
import { buildAgentHttp, checkRoot } from './agent-http.js';
import { listenAgentSocket, type AgentSocket } from './agent-socket.js';
import { prepareSshd, type PreparedSshd } from './agent-sshd-prepare.js';
import { SshdSupervisor } from './agent-sshd-supervisor.js';

export { SSHD_PATH, agentUsage, defaultAgentHttpBind, defaultAgentStateDir, parseAgentArgs, type AgentOptions } from './agent-args.js';
export { AgentCore, type SessionView } from './agent-core.js';
export { buildAgentHttp, checkRoot, type AgentHttpState } from './agent-http.js';
export { listenAgentSocket, type AgentSocket } from './agent-socket.js';
export { dispatchCommand, forcedAuthorizedKeys, renderSshdConfig, type SshdConfigInput } from './agent-sshd-config.js';
export { prepareHostKeys } from './agent-sshd-prepare.js';
export { SshdSupervisor, probeSsh, type SshdState, type SshdSupervisorOptions } from './agent-sshd-supervisor.js';
export type { SlaveStatusDoc } from './agent-status.js';

const execFileP = promisify(execFile);

/** `gsyncd slave-agent …`: resolves to the exit status once stopped by a signal. */
export async function runSlaveAgent(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: { stdout: (t: string) => void }): Promise<number> {
  const o = parseAgentArgs(argv, env);
  if (o === 'help') { io.stdout(agentUsage); return 0; }
  const version = packageVersion();
  const log = createLogger({ level: o.logLevel, base: { role: 'slave', version } });
  log.info({ event: 'agent.start', root: o.root, sshdPort: o.sshdPortExplicit || !o.sshdConfig ? o.sshdPort : undefined, sshdConfig: o.sshdConfig, agentSocket: o.agentSocket, httpBind: o.httpBind }, 'slave agent starting');

  let sshd: PreparedSshd | undefined;
  try {
    sshd = await prepareSshd(o, log);
    await execFileP(o.sshdPath, ['-t', '-f', sshd.configFile], { timeout: 15_000 });
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || describeError(err);
    throw gsyncdError('GSYNCD_ERR_CONFIG', `cannot prepare sshd (${sshd?.configFile ?? o.stateDir}): ${detail}`, err);
  }
  const prepared = sshd;
  if (!(await checkRoot(o.root)).ok) log.warn({ event: 'agent.root', root: o.root }, 'the slave root is missing or not writable: not ready until it is');

  const metrics = createMetrics('slave', { slaveRoot: o.root, version, log });
  const core = new AgentCore(metrics, { log });
  const supervisor = new SshdSupervisor({
    sshdPath: o.sshdPath, configFile: prepared.configFile, port: prepared.port, log, checkIntervalMs: o.checkIntervalMs,
    onUp: (up) => metrics.sshdUp.set(up ? 1 : 0),
  });
  let stopping = false;
  let lastBeat = Date.now();
  const beat = setInterval(() => { lastBeat = Date.now(); }, 1000);
  const keys = setInterval(() => { try { prepared.refreshKeys(); } catch (err) { log.warn({ err }, 'authorized keys refresh failed'); } }, Math.max(1000, o.checkIntervalMs));
  const app = buildAgentHttp(core, { sshd: () => supervisor.current, stopping: () => stopping, lastBeat: () => lastBeat }, { root: o.root, version, logger: log });

  let events: AgentSocket | undefined;
  try {
    events = await listenAgentSocket(core, o.agentSocket, log);
    let address: string | null;
    try {
      address = await startHttp(app, { bind: o.httpBind, explicit: o.httpBindExplicit, log });
    } catch (err) {
      throw gsyncdError('GSYNCD_ERR_SLAVE_UNAVAILABLE', `cannot listen on --http-bind ${o.httpBind}`, err);
    }
    if (address) log.info({ event: 'http.listening', address }, 'http endpoints listening');
  } catch (err) {
    clearInterval(beat);
    clearInterval(keys);
    await events?.close();
    await app.close().catch(() => {});
    throw err;
  }

  supervisor.start();
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      if (!stopping) { stopping = true; resolve(sig); return; }
      log.fatal({ event: 'shutdown.abort', signal: sig }, 'second signal: aborting');
      process.exit(128 + (os.constants.signals[sig] ?? 0));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });

  log.info({ event: 'shutdown.begin', signal }, 'stopping: sshd, then the event socket, then HTTP');
  await supervisor.stop();
  await events.close();
  clearInterval(beat);
  clearInterval(keys);
  await app.close();
  log.info({ event: 'shutdown.done' }, 'slave agent stopped');
  log.flush();
  return 0;
}