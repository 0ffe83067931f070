// The metrics and health endpoints of one gsyncd process (OBSERVABILITY §4): one fastify
// instance on its own port, tested with inject() and no sockets.
//
//   const app = buildHttpServer({ registry: m.registry, role: 'master', logger,
//     status: () => computeStatus({...}),
//     checks: { live: () => [heartbeatCheck('supervisor', lastBeat, livenessWindowMs(changeIntervalMs))],
//               ready: () => [check('state', loaded), check('halt', !halt, halt?.reason)] } });
//   const address = await startHttp(app, { bind: opts.get('http-bind'), explicit, log });   // null: default bind failed, running without HTTP
//   …
//   await app.close();   // last shutdown step: /metrics answers 503 from here on
//
//   GET /metrics   text exposition, always 200
//   GET /livez     200 when every live check passes, else 503     ?verbose lists each check
//   GET /readyz    200 when every ready check passes, else 503    ?verbose
//   GET /healthz   /livez and /readyz together                    ?verbose
//   GET /status    StatusDoc as JSON, always 200 (500 only on a bug)
//   GET /          one line naming the role and these paths
//
// No @fastify/under-pressure (it sheds exactly when the data is needed) and no authentication:
// the bind address and a NetworkPolicy are the control.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Role } from './labels.js';
import type { StatusDoc } from './status.js';

export interface CheckResult {
  /** Short stable name: `supervisor`, `halt`, `sshd`, `root`… */
  readonly name: string;
  readonly ok: boolean;
  /** Why it failed: a stable code such as `root_emptied`, never a path. */
  readonly reason?: string;
}

type Checks = () => readonly CheckResult[] | Promise<readonly CheckResult[]>;

export interface HttpServerOptions {
  readonly registry: Registry;
  readonly role: Role;
  readonly status: () => StatusDoc | Promise<StatusDoc>;
  /** Bring figures others report in bulk up to date before /metrics and /status answer (bounded). */
  readonly refresh?: () => Promise<void>;
  readonly checks: { readonly live: Checks; readonly ready: Checks };
  /** The process logger (fastify gets the same pino instance); default: no request logs. */
  readonly logger?: Logger;
}

export function check(name: string, ok: boolean, reason?: string): CheckResult {
  return ok || reason === undefined ? { name, ok } : { name, ok, reason };
}

/** /livez window: the supervisor heartbeat must be younger than max(60 s, 6 × change-interval). */
export function livenessWindowMs(changeIntervalMs: number): number {
  return Math.max(60_000, 6 * changeIntervalMs);
}

export function heartbeatCheck(name: string, lastBeatMs: number, maxAgeMs: number, nowMs: number = Date.now()): CheckResult {
  const age = nowMs - lastBeatMs;
  return check(name, age < maxAgeMs, `no heartbeat for ${Math.round(age / 1000)} s`);
}

export function buildHttpServer(opts: HttpServerOptions): FastifyInstance {
  const app = (opts.logger
    ? Fastify({ loggerInstance: opts.logger, return503OnClosing: true })
    : Fastify({ logger: false, return503OnClosing: true })) as unknown as FastifyInstance;

  const run = async (req: FastifyRequest, sets: readonly Checks[]): Promise<CheckResult[]> => {
    const out: CheckResult[] = [];
    for (const set of sets) {
      try {
        out.push(...(await set()));
      } catch (err) {
        req.log.warn({ event: 'http.check_failed', err }, 'health check threw');
        out.push({ name: 'checks', ok: false, reason: 'check_error' });
      }
    }
    return out;
  };

  const probe = (name: 'livez' | 'readyz' | 'healthz', sets: readonly Checks[]) =>
    async (req: FastifyRequest<{ Querystring: Record<string, string | undefined> }>, reply: FastifyReply) => {
      const results = await run(req, sets);
      const ok = results.every((r) => r.ok);
      const verbose = isVerbose(req.query);
      reply.code(ok ? 200 : 503).type('text/plain; charset=utf-8').header('cache-control', 'no-store');
      if (ok && !verbose) return 'ok\n';
      const lines = results.filter((r) => verbose || !r.ok).map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.reason ?? 'failed'}`));
      lines.push(`${name} check ${ok ? 'passed' : 'failed'}`);
      return lines.join('\n') + '\n';
    };

  const quiet = { logLevel: 'warn' as const };
  app.get('/metrics', quiet, async (_req, reply) => {
    await opts.refresh?.();
    reply.type(opts.registry.contentType).header('cache-control', 'no-store');
    return opts.registry.metrics();
  });
  app.get('/livez', quiet, probe('livez', [opts.checks.live]));
  app.get('/readyz', quiet, probe('readyz', [opts.checks.ready]));
  app.get('/healthz', quiet, probe('healthz', [opts.checks.live, opts.checks.ready]));
  app.get('/', quiet, async (_req, reply) => {
    reply.type('text/plain; charset=utf-8');
    return `gsyncd ${opts.role}: /metrics /livez /readyz /healthz /status (append ?verbose to a probe)\n`;
  });
  app.get('/status', async (_req, reply) => {
    await opts.refresh?.();
    const doc = await opts.status();
    reply.type('application/json; charset=utf-8').header('cache-control', 'no-store');
    return JSON.stringify(doc) + '\n';
  });
  return app;
}

function isVerbose(query: Record<string, string | undefined> | undefined): boolean {
  if (!query || !('verbose' in query)) return false;
  const v = (query.verbose ?? '').toLowerCase();
  return v !== 'false' && v !== '0';
}

/** `HOST:PORT` or `[V6]:PORT` → listen options. */
export function parseBind(bind: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(bind.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new TypeError(`http-bind: expected HOST:PORT or [IPV6]:PORT, got ${JSON.stringify(bind)}`);
  return { host: (m[1] ?? m[2])!, port };
}

/** The URL `gsyncd status` queries by default: a wildcard bind is reached on loopback. */
export function httpUrlFromBind(bind: string): string {
  const { host, port } = parseBind(bind);
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/**
 * Listen on `bind`. An explicitly configured address that cannot be bound rethrows the listen
 * error (the caller exits 69); the implicit default only warns and resolves to null, and the
 * daemon runs without HTTP.
 */
export async function startHttp(app: FastifyInstance, opts: { bind: string; explicit: boolean; log?: { warn(obj: object, msg: string): void } }): Promise<string | null> {
  const { host, port } = parseBind(opts.bind);
  try {
    return await app.listen({ host, port });
  } catch (err) {
    if (opts.explicit) throw err;
    opts.log?.warn({ event: 'http.bind_failed', err, bind: opts.bind }, 'cannot bind the default http address: running without metrics and health endpoints');
    return null;
  }
}
