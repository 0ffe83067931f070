// Slave mode entry point (`gsyncd --slave ROOT`): serve one master session on stdin/stdout
// against ROOT, a local directory or a GlusterFS volume on this host (mounted here for the
// session, unmounted at the end). stdout is the RPC channel: logs go to stderr or --log-file.
// Exit 0 on EOF from the master (or SIGTERM/SIGINT); 1 after a protocol violation, a broken
// stream or inactivity ("connection inactive", --timeout).
import fs from 'node:fs';
import path from 'node:path';
import { describeError, gsyncdError } from '../core/errors.js';
import { createLogger, type Logger } from '../log/logger.js';
import type { ResolvedOptions } from '../options/tunables.js';
import type { RpcServer } from '../transport/rpc.js';
import { normalizeUrl, type ResourceUrl } from '../url/url.js';
import { agentEmitter, connOf, slaveSessionEvents } from './agent-events.js';
import { serveSlave, type ServedSlave } from './rpc-server.js';
import { fsProbe } from './dispatch.js';
import { SlaveServer } from './server.js';
import { decideStream, streamPolicy } from './stream-policy.js';

interface OpenedRoot {
  readonly slave: ServedSlave;
  readonly rsyncTarget: string;
  readonly close: () => Promise<void>;
}

async function openRoot(opts: ResolvedOptions, url: ResourceUrl, log: Logger): Promise<OpenedRoot> {
  switch (url.kind) {
    case 'file': {
      const st = await fs.promises.stat(url.path).catch(() => null);
      if (!st?.isDirectory()) {
        throw gsyncdError('GSYNCD_ERR_SLAVE_UNAVAILABLE', `slave root ${url.path} ${st ? 'is not a directory' : 'does not exist'}`);
      }
      // rsync on this host is pointed at the real path (the dispatcher compares real paths too).
      const root = await fs.promises.realpath(url.path);
      return { slave: new SlaveServer(root), rsyncTarget: root, close: async () => {} };
    }
    case 'gluster': {
      const { openGlusterSlave } = await import('./gluster-slave.js');
      const slave = await openGlusterSlave({
        host: url.host,
        volume: url.volume,
        glusterCommandDir: opts.get('gluster-command-dir'),
        glusterLogFile: opts.get('gluster-log-file'),
        glusterLogLevel: opts.get('gluster-log-level'),
        glusterParams: opts.get('gluster-params'),
        connectionTimeoutSec: opts.get('connection-timeout'),
        log,
      });
      return { slave, rsyncTarget: path.resolve(slave.root), close: () => slave.close() };
    }
    case 'ssh':
      throw gsyncdError('GSYNCD_ERR_USAGE', `the slave root must be on this host, not ${normalizeUrl(url)}`);
  }
}

export async function runSlave(opts: ResolvedOptions, rootUrl: ResourceUrl): Promise<number> {
  const log = createLogger({ level: opts.get('log-level'), file: opts.get('log-file') || '-', base: { role: 'slave' } });
  let opened: OpenedRoot;
  try {
    opened = await openRoot(opts, rootUrl, log);
  } catch (err) {
    log.error({ root: rootUrl.kind === 'ssh' ? undefined : normalizeUrl(rootUrl) }, `cannot open the slave root: ${describeError(err)}`);
    throw err;
  }
  let server: RpcServer | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'stopping on signal');
    server?.close({ kind: 'local', message: `stopped by ${signal}` });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const events = slaveSessionEvents(agentEmitter(), { conn: connOf(process.env) });
  const policy = streamPolicy(opened.rsyncTarget, process.env);
  try {
    log.info({ root: normalizeUrl(rootUrl), rsyncTarget: opened.rsyncTarget, timeoutSec: opts.get('timeout'), syncJobs: opts.get('sync-jobs') }, 'slave serving on stdin/stdout');
    const reason = await serveSlave(process.stdin, process.stdout, opened.slave, {
      timeoutSec: opts.get('timeout'),
      concurrency: opts.get('sync-jobs'),
      log,
      rsyncTarget: opened.rsyncTarget,
      onServer: (s) => { server = s; },
      events,
      streams: { decide: (argv) => decideStream(argv, policy, fsProbe), tar: policy.allowTar === true },
    });
    return reason.kind === 'eof' || reason.kind === 'local' ? 0 : 1;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.stdin.destroy();
    await events.flush(500);
    await opened.close().catch((err: unknown) => log.error({}, `closing the slave root failed: ${describeError(err)}`));
  }
}
