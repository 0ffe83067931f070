// The slave agent's readiness checks and /status document, built from in-memory state.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { check } from '../../../src/observe/http.js';
import type { SshdState } from '../../../src/slave/agent-sshd-supervisor.js';
import { readinessChecks, slaveStatusDoc } from '../../../src/slave/agent-status.js';

const sshd = (over: Partial<SshdState> = {}): SshdState =>
  ({ up: true, running: true, pid: 4242, port: 2222, restarts: 0, startedAt: 1_700_000_000_000, lastExit: null, ...over });

describe('slave readiness', () => {
  it('sshd accepting, the root check as given, not shutting down', () => {
    assert.deepEqual(readinessChecks(sshd(), check('root', true), false), [{ name: 'sshd', ok: true }, { name: 'root', ok: true }, { name: 'shutdown', ok: true }]);
    assert.deepEqual(readinessChecks(sshd({ up: false, running: false }), check('root', false, 'root_missing'), true), [
      { name: 'sshd', ok: false, reason: 'not_running' }, { name: 'root', ok: false, reason: 'root_missing' }, { name: 'shutdown', ok: false, reason: 'shutting_down' },
    ]);
    assert.deepEqual(readinessChecks(sshd({ up: false }), check('root', true), false)[0], { name: 'sshd', ok: false, reason: 'not_accepting' });
  });
});

describe('slave /status document', () => {
  it('times in ISO seconds, ready when every check is, root_writable from the root check', () => {
    const checks = [check('supervisor', true), ...readinessChecks(sshd(), check('root', true), false)];
    const doc = slaveStatusDoc({
      version: '0.3.0', root: '/data', nowMs: 1_700_000_009_999, checks, freeBytes: 1024,
      sshd: sshd({ restarts: 1, lastExit: { code: 255, signal: null, at: 1_699_999_999_500 } }),
      sessions: [{ session: 'gv0', connected: true, connections: 1, last_request_at: null, entry_ops: 0, rsync_receives: 0, refusals: 0 }],
    });
    assert.deepEqual(doc, {
      role: 'slave', version: '0.3.0', checked_at: '2023-11-14T22:13:29Z', root: '/data', ready: true, checks,
      sshd: { up: true, running: true, pid: 4242, port: 2222, restarts: 1, started_at: '2023-11-14T22:13:20Z', last_exit: { code: 255, signal: null, at: '2023-11-14T22:13:19Z' } },
      root_writable: true, root_free_bytes: 1024,
      sessions: [{ session: 'gv0', connected: true, connections: 1, last_request_at: null, entry_ops: 0, rsync_receives: 0, refusals: 0 }],
    });
  });

  it('not ready when any check fails; no root check means not writable', () => {
    const down = slaveStatusDoc({
      version: 'v', root: '/r', nowMs: 0, sshd: sshd({ up: false, running: false, pid: null, startedAt: null }),
      checks: [check('supervisor', true), check('sshd', false, 'not_running')], freeBytes: null, sessions: [],
    });
    assert.equal(down.ready, false);
    assert.equal(down.root_writable, false);
    assert.equal(down.sshd.started_at, null);
    assert.equal(down.sshd.last_exit, null);
    assert.equal(down.root_free_bytes, null);
  });
});
