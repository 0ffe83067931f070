// `gsyncd slave-agent` argument parsing: defaults, environment, usage errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isGsyncdError } from '../../../src/core/errors.js';
import { parseAgentArgs, type AgentOptions } from '../../../src/slave/agent-args.js';

describe('parseAgentArgs', () => {
  it('defaults', () => {
    const o = parseAgentArgs(['/data'], {}) as AgentOptions;
    assert.equal(o.root, '/data');
    assert.equal(o.sshdPort, 22);
    assert.equal(o.sshdPortExplicit, false);
    assert.equal(o.httpBind, '127.0.0.1:9754');
    assert.equal(o.httpBindExplicit, false);
    assert.equal(o.agentSocket, '/run/gsyncd/agent.sock');
    assert.equal(o.stateDir, '/run/gsyncd/agent');
    assert.equal(o.checkIntervalMs, 5000);
    assert.equal(o.sshdConfig, undefined);
    assert.deepEqual(o.allowVolumes, []);
    assert.equal(o.allowTar, false);
  });

  it('--allow-tar (a flag) goes to the forced command', () => {
    const o = parseAgentArgs(['data', '--allow-tar'], {}, '/srv') as AgentOptions;
    assert.equal(o.allowTar, true);
  });

  it('options, the images\' GSYNCD_HTTP_BIND, repeated --allow-volume', () => {
    const o = parseAgentArgs(['--sshd-port', '2222', 'data', '--allow-volume', 'gv0', '--allow-volume=gv1', '--host-keys', '/etc/gsyncd/ssh',
      '--authorized-keys', '/etc/gsyncd/ssh/authorized_keys', '--agent-socket', '/tmp/a.sock', '--check-interval', '0.5'],
    { GSYNCD_HTTP_BIND: '0.0.0.0:9754', GSYNCD_LOG_LEVEL: 'debug' }, '/srv') as AgentOptions;
    assert.equal(o.root, '/srv/data');
    assert.equal(o.sshdPort, 2222);
    assert.equal(o.sshdPortExplicit, true);
    assert.equal(o.httpBind, '0.0.0.0:9754');
    assert.equal(o.httpBindExplicit, true, 'an address from the environment is explicit: a failed bind exits 69');
    assert.deepEqual(o.allowVolumes, ['gv0', 'gv1']);
    assert.equal(o.hostKeys, '/etc/gsyncd/ssh');
    assert.equal(o.agentSocket, '/tmp/a.sock');
    assert.equal(o.checkIntervalMs, 500);
    assert.equal(o.logLevel, 'debug');
    assert.equal((parseAgentArgs(['/d', '--authorized-keys', '/x/%u'], {}) as AgentOptions).authorizedKeys, '/x/%u');
    assert.equal(parseAgentArgs(['--help'], {}), 'help');
  });

  it('usage errors exit 64', () => {
    for (const argv of [[], ['/a', '/b'], ['/d', '--bogus'], ['/d', '--sshd-port'], ['/d', '--sshd-port', '70000'], ['/d', '--http-bind', 'nope'],
      ['/d', '--allow-volume', 'a/b'], ['/d', '--log-level', 'loud']]) {
      assert.throws(() => parseAgentArgs(argv, {}), (err: unknown) => isGsyncdError(err, 'GSYNCD_ERR_USAGE') && err.exitCode === 64, JSON.stringify(argv));
    }
  });
});
