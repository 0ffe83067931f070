// Session events → slave metrics (AgentCore, in memory) and the NDJSON framing of the event socket.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../../src/observe/metrics.js';
import { AgentCore, parseEventLine, takeEventLines } from '../../../src/slave/agent-core.js';
import { find, samples, value } from '../observe/support.js';

function fresh() {
  const metrics = createMetrics('slave', { slaveRoot: '/data', version: '0.3.0' });
  return { metrics, core: new AgentCore(metrics) };
}

describe('AgentCore: events → slave metrics', () => {
  it('connected follows the attached processes; the series stays at 0 after detach', async () => {
    const { core, metrics } = fresh();
    core.handle({ type: 'session', session: 'gv0', connected: true }, 1);
    core.handle({ type: 'session', session: 'gv0', connected: true }, 2);
    let s = await samples(metrics.registry);
    assert.equal(value(s, 'gsyncd_slave_session_connected', { session: 'gv0' }), 1);
    // §3.5: the session's series exist at 0 from the start
    assert.equal(find(s, 'gsyncd_slave_entry_ops_total', { session: 'gv0' }).length, 8 * 3);
    assert.equal(value(s, 'gsyncd_slave_rsync_receives_total', { session: 'gv0', result: 'vanished' }), 0);
    assert.equal(value(s, 'gsyncd_slave_refusals_total', { session: 'gv0', reason: 'bad_frame' }), 0);
    core.handle({ type: 'session', session: 'gv0', connected: false }, 1);
    s = await samples(metrics.registry);
    assert.equal(value(s, 'gsyncd_slave_session_connected', { session: 'gv0' }), 1, 'one process still attached');
    core.sourceClosed(2); // crashed without saying goodbye
    s = await samples(metrics.registry);
    assert.equal(value(s, 'gsyncd_slave_session_connected', { session: 'gv0' }), 0);
    assert.deepEqual(core.views().map((v) => [v.session, v.connected, v.connections]), [['gv0', false, 0]]);
  });

  it('requests, entry ops, rsync runs and refusals; rsync and refusals attributed through the SSH connection', async () => {
    const { core, metrics } = fresh();
    core.handle({ type: 'session', session: 'gv0', connected: true, conn: '192.0.2.7 50123' }, 1);
    core.handle({ type: 'request', session: 'gv0', at: 1_700_000_002_500 });
    core.handle({ type: 'request', session: 'gv0', at: 1_700_000_001_000 }); // late: never goes back
    core.handle({ type: 'entry_ops', session: 'gv0', op: 'mkdir', result: 'success', n: 3 });
    core.handle({ type: 'entry_ops', session: 'gv0', op: 'mkdir', result: 'success', n: 2 });
    core.handle({ type: 'entry_ops', session: 'gv0', op: 'rmdir', result: 'error', n: 1 });
    core.handle({ type: 'rsync', session: 'unknown', result: 'ok', conn: '192.0.2.7 50123' });
    core.handle({ type: 'rsync', session: 'unknown', result: 'partial', conn: '192.0.2.7 50123' });
    core.handle({ type: 'rsync', session: 'unknown', result: 'error', conn: '198.51.100.1 1' }); // another connection
    core.handle({ type: 'refusal', session: 'unknown', reason: 'forbidden_command' });
    core.handle({ type: 'refusal', session: 'gv0', reason: 'path_escape' });
    const s = await samples(metrics.registry);
    assert.equal(value(s, 'gsyncd_slave_last_request_timestamp_seconds', { session: 'gv0' }), 1_700_000_002.5);
    assert.equal(value(s, 'gsyncd_slave_entry_ops_total', { session: 'gv0', op: 'mkdir', result: 'success' }), 5);
    assert.equal(value(s, 'gsyncd_slave_entry_ops_total', { session: 'gv0', op: 'rmdir', result: 'error' }), 1);
    assert.equal(value(s, 'gsyncd_slave_rsync_receives_total', { session: 'gv0', result: 'ok' }), 1);
    assert.equal(value(s, 'gsyncd_slave_rsync_receives_total', { session: 'gv0', result: 'partial' }), 1);
    assert.equal(value(s, 'gsyncd_slave_rsync_receives_total', { session: 'unknown', result: 'error' }), 1);
    assert.equal(value(s, 'gsyncd_slave_refusals_total', { session: 'unknown', reason: 'forbidden_command' }), 1);
    assert.equal(value(s, 'gsyncd_slave_refusals_total', { session: 'gv0', reason: 'path_escape' }), 1);
    const v = core.views().find((x) => x.session === 'gv0')!;
    assert.deepEqual(v, { session: 'gv0', connected: true, connections: 1, last_request_at: '2023-11-14T22:13:22Z', entry_ops: 6, rsync_receives: 2, refusals: 1 });
  });

  it('caps the number of sessions with series of their own (§3.2 budget)', async () => {
    const metrics = createMetrics('slave', { slaveRoot: '/data' });
    const core = new AgentCore(metrics, { maxSessions: 3 });
    for (let i = 0; i < 10; i++) core.handle({ type: 'session', session: `s${i}`, connected: true }, i);
    core.handle({ type: 'refusal', session: 'unknown', reason: 'nul_byte' });
    const s = await samples(metrics.registry);
    assert.deepEqual(find(s, 'gsyncd_slave_session_connected').map((x) => x.labels['session']), ['s0', 's1', 's2']);
    assert.equal(value(s, 'gsyncd_slave_refusals_total', { session: 'unknown', reason: 'nul_byte' }), 1, 'unknown is always counted');
    assert.equal(core.dropped, 7);
  });
});

describe('event socket framing', () => {
  it('complete lines are taken, blank ones skipped, the unfinished rest kept for the next chunk', () => {
    assert.deepEqual(takeEventLines(''), { lines: [], rest: '' });
    assert.deepEqual(takeEventLines('{"a":1}'), { lines: [], rest: '{"a":1}' });
    assert.deepEqual(takeEventLines('{"a":1}\n\n  \n{"b":2}\n{"c"'), { lines: ['{"a":1}', '{"b":2}'], rest: '{"c"' });
    let buf = '';
    const seen: string[] = [];
    for (const chunk of ['{"x":', '1}\n{"y"', ':2}\n']) {
      const t = takeEventLines(buf + chunk);
      buf = t.rest;
      seen.push(...t.lines);
    }
    assert.deepEqual(seen, ['{"x":1}', '{"y":2}']);
    assert.equal(buf, '');
  });

  it('a line is an event, or null when it is not JSON or not a known event', () => {
    assert.deepEqual(parseEventLine('{"type":"session","session":"gv0","connected":true}'), { type: 'session', session: 'gv0', connected: true });
    assert.equal(parseEventLine('not json'), null);
    assert.equal(parseEventLine('{"type":"bogus","session":"gv0"}'), null);
    assert.equal(parseEventLine('null'), null);
  });
});
