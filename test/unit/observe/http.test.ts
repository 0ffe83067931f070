import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { attachMasterMetrics } from '../../../src/master/master-metrics.js';
import { buildHttpServer, check, heartbeatCheck, httpUrlFromBind, livenessWindowMs, parseBind, startHttp, type CheckResult, type HttpServerOptions } from '../../../src/observe/http.js';
import { createMetrics } from '../../../src/observe/metrics.js';
import { computeStatus } from '../../../src/observe/status.js';
import { sessionState } from './support.js';

type Checks = { live: CheckResult[]; ready: CheckResult[] };

function app(checks: Checks = { live: [], ready: [] }, over: Partial<HttpServerOptions> = {}) {
  const m = createMetrics('master');
  attachMasterMetrics(m, { session: 'gv0', brick: '0' });
  return buildHttpServer({
    registry: m.registry, role: 'master',
    status: () => computeStatus({ role: 'master', version: '0.3.0', now: Date.now(), source: 'daemon', workers: [{ state: sessionState({ syncedUpTo: Date.now() - 1000 }) }] }),
    checks: { live: () => checks.live, ready: () => checks.ready },
    ...over,
  });
}

const healthy: Checks = { live: [check('supervisor', true)], ready: [check('state', true), check('halt', true)] };
const halted: Checks = { live: [check('supervisor', true)], ready: [check('state', true), check('halt', false, 'root_emptied')] };
const deadlocked: Checks = { live: [check('supervisor', false, 'no heartbeat for 75 s')], ready: [check('state', true), check('halt', true)] };

describe('GET /metrics', () => {
  it('200 with the registry content type, whatever the health', async () => {
    for (const checks of [healthy, halted, deadlocked]) {
      const a = app(checks);
      const res = await a.inject('/metrics');
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], createMetrics('master').registry.contentType);
      assert.match(res.body, /^gsyncd_build_info\{/m);
      assert.match(res.body, /^gsyncd_worker_state\{session="gv0",brick="0",state="initializing"\} 1$/m);
      assert.match(res.body, /^process_cpu_user_seconds_total /m);
    }
  });

  it('a failing collect() does not fail the scrape', async () => {
    const m = createMetrics('master', { now: () => { throw new Error('boom'); } });
    m.initSession('gv0', '0');
    m.setSyncedUpTo('gv0', '0', 1);
    const a = buildHttpServer({ registry: m.registry, role: 'master', status: () => { throw new Error('unused'); }, checks: { live: () => [], ready: () => [] } });
    assert.equal((await a.inject('/metrics')).statusCode, 200);
  });

  it('503 once app.close() has begun (final shutdown step)', async () => {
    const a = app(healthy);
    let during: number | undefined;
    // preClose runs after fastify stopped routing and before the server stops accepting.
    a.addHook('preClose', async () => { during = (await fetch(`${address}/metrics`)).status; });
    const address = (await startHttp(a, { bind: '127.0.0.1:0', explicit: true }))!;
    assert.equal((await fetch(`${address}/metrics`)).status, 200);
    await a.close();
    assert.equal(during, 503);
  });
});

describe('probes', () => {
  const cases: Array<[string, Checks, number, number, number]> = [
    // name, checks, /livez, /readyz, /healthz
    ['healthy', healthy, 200, 200, 200],
    ['safety halt: ready fails, live does not (a restart cannot fix it)', halted, 200, 503, 503],
    ['deadlocked supervisor: live fails', deadlocked, 503, 200, 503],
    ['starting up: no state yet', { live: healthy.live, ready: [check('state', false, 'loading')] }, 200, 503, 503],
  ];
  for (const [name, checks, livez, readyz, healthz] of cases) {
    it(`${name}: /livez ${livez}, /readyz ${readyz}, /healthz ${healthz}`, async () => {
      const a = app(checks);
      assert.equal((await a.inject('/livez')).statusCode, livez);
      assert.equal((await a.inject('/readyz')).statusCode, readyz);
      assert.equal((await a.inject('/healthz')).statusCode, healthz);
    });
  }

  it('plain success is "ok"; ?verbose lists every check like the API server', async () => {
    const a = app(healthy);
    const plain = await a.inject('/readyz');
    assert.equal(plain.body, 'ok\n');
    assert.match(String(plain.headers['content-type']), /^text\/plain/);
    assert.equal((await a.inject('/readyz?verbose')).body, '[+]state ok\n[+]halt ok\nreadyz check passed\n');
    assert.equal((await a.inject('/healthz?verbose=1')).body, '[+]supervisor ok\n[+]state ok\n[+]halt ok\nhealthz check passed\n');
    assert.equal((await a.inject('/livez?verbose=false')).body, 'ok\n');
  });

  it('a failure names the failed checks; ?verbose adds the passing ones', async () => {
    const a = app(halted);
    assert.equal((await a.inject('/readyz')).body, '[-]halt failed: root_emptied\nreadyz check failed\n');
    assert.equal((await a.inject('/healthz?verbose')).body, '[+]supervisor ok\n[+]state ok\n[-]halt failed: root_emptied\nhealthz check failed\n');
    assert.equal((await a.inject('/livez?verbose')).body, '[+]supervisor ok\nlivez check passed\n');
  });

  it('a check that throws fails the probe with 503, not 500', async () => {
    const m = createMetrics('master');
    const a = buildHttpServer({ registry: m.registry, role: 'master', status: () => { throw new Error('x'); }, checks: { live: () => { throw new Error('bug'); }, ready: async () => [] } });
    const res = await a.inject('/livez');
    assert.equal(res.statusCode, 503);
    assert.equal(res.body, '[-]checks failed: check_error\nlivez check failed\n');
    assert.equal((await a.inject('/readyz')).statusCode, 200, 'async checks work too');
  });

  it('heartbeat check and the liveness window', () => {
    assert.equal(livenessWindowMs(500), 60_000);
    assert.equal(livenessWindowMs(20_000), 120_000);
    assert.deepEqual(heartbeatCheck('supervisor', 1000, 60_000, 50_000), { name: 'supervisor', ok: true });
    assert.deepEqual(heartbeatCheck('supervisor', 1000, 60_000, 76_000), { name: 'supervisor', ok: false, reason: 'no heartbeat for 75 s' });
  });
});

describe('GET /status', () => {
  it('200 with the JSON document, whatever the verdict', async () => {
    const res = await app(halted).inject('/status');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const doc = res.json();
    assert.equal(doc.verdict, 'in-sync');
    assert.equal(doc.sessions[0].session, 'gv0_backup1_gv0b');
  });

  it('500 only on a bug', async () => {
    const a = app(healthy, { status: () => { throw new Error('bug'); } });
    assert.equal((await a.inject('/status')).statusCode, 500);
  });
});

describe('GET /', () => {
  it('names the role and the endpoints', async () => {
    const res = await app(healthy).inject('/');
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /^gsyncd master: \/metrics \/livez \/readyz \/healthz \/status/);
  });
});

describe('logging', () => {
  it('probe and metrics routes log at warn; /status at info', async () => {
    const lines: Array<{ msg?: string; req?: { url?: string }; level: number }> = [];
    const sink = new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l)); cb(); } });
    const a = app(halted, { logger: pino({ level: 'info' }, sink) });
    for (const url of ['/metrics', '/livez', '/readyz', '/healthz', '/livez?verbose']) await a.inject(url);
    assert.deepEqual(lines.filter((l) => l.level < 40), [], 'nothing below warn for probes and metrics');
    await a.inject('/status');
    assert.ok(lines.some((l) => l.req?.url === '/status'), 'a /status request is logged');
  });
});

describe('binding', () => {
  it('parseBind and the URL gsyncd status asks', () => {
    assert.deepEqual(parseBind('127.0.0.1:9754'), { host: '127.0.0.1', port: 9754 });
    assert.deepEqual(parseBind('[::]:9754'), { host: '::', port: 9754 });
    assert.deepEqual(parseBind('gsyncd.local:80'), { host: 'gsyncd.local', port: 80 });
    assert.throws(() => parseBind('9754'), TypeError);
    assert.throws(() => parseBind('host:99999'), TypeError);
    assert.equal(httpUrlFromBind('0.0.0.0:9754'), 'http://127.0.0.1:9754');
    assert.equal(httpUrlFromBind('[::]:9754'), 'http://[::1]:9754');
    assert.equal(httpUrlFromBind('10.0.0.5:9000'), 'http://10.0.0.5:9000');
  });

  it('an explicit address that cannot be bound throws; the implicit default warns and runs without HTTP', async () => {
    const first = app(healthy);
    const address = await startHttp(first, { bind: '127.0.0.1:0', explicit: true });
    assert.ok(address);
    const taken = `127.0.0.1:${new URL(address).port}`;
    try {
      await assert.rejects(startHttp(app(healthy), { bind: taken, explicit: true }), { code: 'EADDRINUSE' });
      const warnings: object[] = [];
      assert.equal(await startHttp(app(healthy), { bind: taken, explicit: false, log: { warn: (o) => warnings.push(o) } }), null);
      assert.equal(warnings.length, 1);
    } finally {
      await first.close();
    }
  });
});
