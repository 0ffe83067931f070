// The slave agent's HTTP side: /metrics, /livez, /readyz, /healthz, /status (observe/http.ts)
// over any sshd state, so the unit tests need no sshd.
import fs from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../log/logger.js';
import { buildHttpServer, check, heartbeatCheck, livenessWindowMs, type CheckResult } from '../observe/http.js';
import type { StatusDoc } from '../observe/status.js';
import type { AgentCore } from './agent-core.js';
import type { SshdState } from './agent-sshd-supervisor.js';
import { readinessChecks, slaveStatusDoc, type SlaveStatusDoc } from './agent-status.js';

/** Whether the root exists, is a directory and is writable; the reason is a stable code. */
export async function checkRoot(root: string): Promise<CheckResult> {
  try {
    const st = await fs.promises.stat(root);
    if (!st.isDirectory()) return check('root', false, 'root_not_a_directory');
    await fs.promises.access(root, fs.constants.W_OK);
    return check('root', true);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return check('root', false, code === 'ENOENT' ? 'root_missing' : code === 'EROFS' ? 'root_read_only' : 'root_not_writable');
  }
}

export interface AgentHttpState {
  readonly sshd: () => SshdState;
  readonly stopping: () => boolean;
  readonly lastBeat: () => number;
}

export function buildAgentHttp(core: AgentCore, state: AgentHttpState, opts: { root: string; version: string; logger?: Logger; now?: () => number }): FastifyInstance {
  const now = opts.now ?? Date.now;
  const live = () => [heartbeatCheck('supervisor', state.lastBeat(), livenessWindowMs(0), now())];
  const ready = async () => {
    const s = state.sshd();
    return readinessChecks(s, await checkRoot(opts.root), state.stopping());
  };
  const status = async (): Promise<SlaveStatusDoc> => {
    const s = state.sshd();
    const checks = [...live(), ...(await ready())];
    const free = await fs.promises.statfs(opts.root).then((st) => Number(st.bavail) * Number(st.bsize), () => null);
    return slaveStatusDoc({ version: opts.version, root: opts.root, nowMs: now(), sshd: s, checks, freeBytes: free, sessions: core.views() });
  };
  return buildHttpServer({
    registry: core.metrics.registry, role: 'slave', ...(opts.logger ? { logger: opts.logger } : {}),
    // http.ts types /status as the master's StatusDoc; the slave agent serves its own document.
    status: status as unknown as () => Promise<StatusDoc>,
    checks: { live, ready },
  });
}