import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { buildHttpServer } from '../../../src/observe/http.js';
import { createMetrics } from '../../../src/observe/metrics.js';
import { formatStatus, listStateFiles, runStatus } from '../../../src/observe/status-command.js';
import { computeStatus, type StatusDoc } from '../../../src/observe/status.js';
import type { SessionState } from '../../../src/session/state-file.js';
import { sessionState } from './support.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gsyncd-status-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const now = Date.parse('2026-11-25T14:09:03Z');

function stateDir(name: string, states: SessionState[]): string {
  const dir = path.join(tmp, name);
  for (const s of states) {
    fs.mkdirSync(path.join(dir, s.session), { recursive: true });
    fs.writeFileSync(path.join(dir, s.session, 'state.json'), JSON.stringify(s));
  }
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function capture() {
  let text = '';
  return { out: { write: (s: string) => { text += s; } }, text: () => text };
}

/** fetch served by app.inject: the daemon without a socket. */
function injectFetch(doc: () => StatusDoc): typeof fetch {
  const app = buildHttpServer({ registry: createMetrics('master').registry, role: 'master', status: doc, checks: { live: () => [], ready: () => [] } });
  return (async (input: string | URL | Request) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const res = await app.inject({ method: 'GET', url: url.pathname + url.search });
    return new Response(res.body, { status: res.statusCode, headers: { 'content-type': String(res.headers['content-type']) } });
  }) as typeof fetch;
}

const running = () => true;
const gone = () => false;

describe('runStatus: state-file path', () => {
  it('exit 0 and the human report for a session in sync', async () => {
    const dir = stateDir('in-sync', [sessionState({ syncedUpTo: now - 5000 })]);
    const c = capture();
    const code = await runStatus({ json: false, stateDir: dir, out: c.out, now: () => now, isRunning: running, version: '0.3.0' });
    assert.equal(code, 0);
    assert.match(c.text(), /^in-sync \(exit 0\) from state files/);
    assert.match(c.text(), /session gv0_backup1_gv0b \(started\)  gluster:\/\/localhost:gv0 -> ssh:\/\/gsyncd@backup1:\/data/);
    assert.match(c.text(), /BRICK +STATE +CRAWL +SYNCED UP TO +LAG/);
    assert.match(c.text(), /\n {2}0 +active +xtime +2026-11-25T14:08:58Z +5 s/);
  });

  it('--json prints the document; exit follows the verdict', async () => {
    const dir = stateDir('lagging', [sessionState({ syncedUpTo: now - 412_000 })]);
    const c = capture();
    const code = await runStatus({ json: true, stateDir: dir, out: c.out, now: () => now, isRunning: running });
    const doc = JSON.parse(c.text()) as StatusDoc;
    assert.equal(code, 0);
    assert.equal(doc.verdict, 'catching-up');
    assert.equal(doc.source, 'state-file');
    assert.equal(doc.sessions[0]!.lag_seconds, 412);
  });

  it('the writer is gone → halted, exit 2', async () => {
    const dir = stateDir('dead', [sessionState({ syncedUpTo: now - 5000, pid: 999_999 })]);
    const c = capture();
    assert.equal(await runStatus({ json: true, stateDir: dir, out: c.out, now: () => now, isRunning: gone }), 2);
    assert.deepEqual((JSON.parse(c.text()) as StatusDoc).reasons.map((r) => r.code), ['daemon_not_running']);
  });

  it('a faulty worker → degraded, exit 1', async () => {
    const dir = stateDir('faulty', [sessionState({ workerState: 'faulty' })]);
    assert.equal(await runStatus({ json: true, stateDir: dir, out: capture().out, now: () => now, isRunning: running }), 1);
  });

  it('no state at all → unknown, exit 3', async () => {
    const c = capture();
    assert.equal(await runStatus({ json: false, stateDir: path.join(tmp, 'nothing-here'), out: c.out, now: () => now }), 3);
    assert.match(c.text(), /^unknown \(exit 3\)/);
  });

  it('explicit state files; unreadable ones are skipped', async () => {
    const dir = stateDir('explicit', [sessionState({ session: 'a', syncedUpTo: now - 1000 }), sessionState({ session: 'b', workerState: 'paused' })]);
    fs.writeFileSync(path.join(dir, 'torn.json'), '{"half');
    const c = capture();
    const code = await runStatus({ json: true, stateFiles: [path.join(dir, 'a', 'state.json'), path.join(dir, 'torn.json')], out: c.out, now: () => now, isRunning: running });
    assert.equal(code, 0);
    assert.deepEqual((JSON.parse(c.text()) as StatusDoc).sessions.map((s) => s.session), ['a']);
    assert.deepEqual(listStateFiles(dir).map((f) => path.relative(dir, f)), ['a/state.json', 'b/state.json']);
  });
});

describe('runStatus: daemon path', () => {
  it('prefers the daemon\'s /status', async () => {
    const dir = stateDir('with-daemon', [sessionState({ workerState: 'faulty' })]);
    const daemonDoc = computeStatus({ role: 'master', version: '0.3.0', now, source: 'daemon', workers: [{ state: sessionState({ syncedUpTo: now - 1000 }) }] });
    const c = capture();
    const code = await runStatus({ json: true, stateDir: dir, httpUrl: 'http://127.0.0.1:9754', fetch: injectFetch(() => daemonDoc), out: c.out, now: () => now, isRunning: running });
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(c.text()), daemonDoc);
  });

  it('human form says where the answer came from', async () => {
    const daemonDoc = computeStatus({ role: 'master', version: '0.3.0', now, source: 'daemon', workers: [{ state: sessionState({ workerState: 'paused' }) }] });
    const c = capture();
    const code = await runStatus({ json: false, httpUrl: 'http://127.0.0.1:9754', fetch: injectFetch(() => daemonDoc), out: c.out });
    assert.equal(code, 2);
    assert.match(c.text(), /^halted \(exit 2\) from daemon http:\/\/127\.0\.0\.1:9754\n {2}session_paused: /);
  });

  it('falls back to the state files when the daemon is unreachable or answers garbage', async () => {
    const dir = stateDir('fallback', [sessionState({ workerState: 'faulty' })]);
    const refused: typeof fetch = async () => { throw new TypeError('fetch failed'); };
    const garbage: typeof fetch = async () => new Response('<html>', { status: 200 });
    const notFound: typeof fetch = async () => new Response('{}', { status: 404 });
    for (const f of [refused, garbage, notFound]) {
      const c = capture();
      assert.equal(await runStatus({ json: true, stateDir: dir, httpUrl: 'http://127.0.0.1:9754', fetch: f, out: c.out, now: () => now, isRunning: running }), 1);
      assert.equal((JSON.parse(c.text()) as StatusDoc).source, 'state-file');
    }
  });

  it('a real connection refused falls back too', async () => {
    const dir = stateDir('refused', [sessionState({ syncedUpTo: now - 1000 })]);
    const c = capture();
    assert.equal(await runStatus({ json: true, stateDir: dir, httpUrl: 'http://127.0.0.1:1', timeoutMs: 1000, out: c.out, now: () => now, isRunning: running }), 0);
    assert.equal((JSON.parse(c.text()) as StatusDoc).source, 'state-file');
  });
});

describe('formatStatus', () => {
  it('shows checkpoint, halt, pending and the last error', () => {
    const doc = computeStatus({
      role: 'master', version: 'x', now, source: 'daemon', workers: [{
        state: sessionState({ workerState: 'halted', syncedUpTo: now - 1000, checkpoint: { target: now - 5000, completedAt: now - 500 }, halt: { reason: 'root_emptied', since: '2026-11-25T13:00:00Z', detail: 'the master root is suddenly empty' }, lastError: { message: 'x: EIO', at: '2026-11-25T13:00:00Z' } }),
        live: { slaveConnected: true, slaveDisconnectedSince: null, pending: { entry: 1, data: 2, meta: 3, bytes: 4 }, lastBatchAt: null, lastProgressAt: now, lastSkipAt: null, lastRsyncErrorAt: null, entriesScanned: 0 },
      }],
    });
    const text = formatStatus(doc, 'http://127.0.0.1:9754');
    assert.match(text, /checkpoint: {3}2026-11-25T14:08:58Z completed at 2026-11-25T14:09:02Z/);
    assert.match(text, /halt: {9}root_emptied since 2026-11-25T13:00:00Z: the master root is suddenly empty/);
    assert.match(text, /pending: {6}1 entry, 2 data, 3 meta, 4 bytes/);
    assert.match(text, /brick 0 last error at 2026-11-25T13:00:00Z: x: EIO/);
  });
});

describe('docs/status.md', () => {
  const md = fs.readFileSync(new URL('../../../docs/status.md', import.meta.url), 'utf8');
  const blocks = [...md.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], text: m[2]! }));
  const example = JSON.parse(blocks.find((b) => b.lang === 'json')!.text) as StatusDoc;

  it('the JSON example has exactly the keys computeStatus produces', () => {
    const doc = computeStatus({ role: 'master', version: 'x', now, source: 'daemon', workers: [{ state: sessionState({ syncedUpTo: now - 412_000 }), live: { slaveConnected: true, slaveDisconnectedSince: null, pending: { entry: 0, data: 0, meta: 0, bytes: 0 }, lastBatchAt: now, lastProgressAt: now, lastSkipAt: null, lastRsyncErrorAt: null, entriesScanned: 0 } }] });
    const shape = (v: unknown): unknown => Array.isArray(v) ? v.slice(0, 1).map(shape) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]).sort()) : typeof v;
    const keys = (v: unknown): unknown => JSON.parse(JSON.stringify(shape(v)), (_k, x) => (typeof x === 'string' ? '*' : x));
    assert.deepEqual(keys(example), keys(doc));
  });

  it('the human example is what formatStatus prints for the JSON example', () => {
    assert.equal(blocks.find((b) => b.lang === '')!.text, formatStatus(example, 'http://127.0.0.1:9754'));
  });
});
