// The sshd supervisor's decisions on in-memory data: restart backoff, exit wording, its own
// health-check lines, the banner verdict, /proc parsing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  STABLE_RUN_MS, describeSshdExit, isHealthCheckLine, nextRestart, parseProcChildren, sshBannerVerdict, statIsAlive,
} from '../../../src/slave/agent-sshd-restart.js';

describe('sshd restarts', () => {
  it('short runs in a row double the delay up to 30 s; a stable run starts over at 1 s', () => {
    let consecutive = 0;
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const next = nextRestart(consecutive, 100);
      consecutive = next.consecutive;
      delays.push(next.delayMs);
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    assert.deepEqual(nextRestart(consecutive, STABLE_RUN_MS), { consecutive: 1, delayMs: 1000 });
    assert.deepEqual(nextRestart(3, STABLE_RUN_MS - 1), { consecutive: 4, delayMs: 8000 });
  });

  it('says why sshd went away', () => {
    assert.equal(describeSshdExit(255, null), 'exited with status 255');
    assert.equal(describeSshdExit(null, 'SIGKILL'), 'was killed by SIGKILL');
    assert.equal(describeSshdExit(null, null, new Error('spawn /usr/sbin/sshd ENOENT')), 'could not be started: spawn /usr/sbin/sshd ENOENT');
  });
});

describe('sshd health checks', () => {
  it("recognises sshd's lines about its own probes by their local port", () => {
    const ports = [40001, 40002];
    assert.equal(isHealthCheckLine('Connection closed by 127.0.0.1 port 40002 [preauth]', ports), true);
    assert.equal(isHealthCheckLine('Connection reset by 127.0.0.1 port 40001', ports), true);
    assert.equal(isHealthCheckLine('Connection closed by 127.0.0.1 port 400021 [preauth]', ports), false, 'a longer port number');
    assert.equal(isHealthCheckLine('Connection closed by 192.0.2.7 port 40002 [preauth]', ports), false, 'not loopback');
    assert.equal(isHealthCheckLine('Accepted publickey for root from 127.0.0.1 port 40003 ssh2', ports), false);
    assert.equal(isHealthCheckLine('Connection closed by 127.0.0.1 port 40001 [preauth]', []), false);
  });

  it('a banner is judged once its line is complete (or too long)', () => {
    assert.equal(sshBannerVerdict(''), null);
    assert.equal(sshBannerVerdict('SSH-2.0-OpenSSH_9.2'), null);
    assert.equal(sshBannerVerdict('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'), true);
    assert.equal(sshBannerVerdict('HTTP/1.1 400 Bad Request\r\n'), false);
    assert.equal(sshBannerVerdict('x'.repeat(256)), false);
  });

  it('/proc: the children list and whether a process is a zombie', () => {
    assert.deepEqual(parseProcChildren('123 456 \n'), [123, 456]);
    assert.deepEqual(parseProcChildren(''), []);
    assert.equal(statIsAlive('4242 (sshd) S 1 4242 4242 0 -1 4194560'), true);
    assert.equal(statIsAlive('4242 (sshd: root [priv]) Z 1 4242'), false, 'comm with blanks and parentheses');
    assert.equal(statIsAlive('4242 (a) b) R 1'), true, 'the state follows the last parenthesis');
  });
});
