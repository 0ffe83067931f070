// A slave command that cannot start is one clear error naming the command, the host and the
// option to set; anything else stays the transport's error (and is retried as usual).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gsyncdError } from '../../../src/core/errors.js';
import { slaveStartProblem } from '../../../src/transport/slave-start.js';

const broken = gsyncdError('GSYNCD_ERR_RPC', 'connection to peer is broken (peer closed the connection)');
const base = { command: '/opt/gsyncd --slave --timeout 120 file:///data', host: 'root@10.0.0.2', exitCode: null, stderr: '', error: broken };

describe('slaveStartProblem', () => {
  it('exit 127 (not found) and 126 (not executable): the command, the status, its last stderr line, the host and --remote-gsyncd', () => {
    const p = slaveStartProblem({ ...base, exitCode: 127, stderr: 'bash: line 1: /opt/gsyncd: No such file or directory\n' });
    assert.ok(p);
    assert.equal(p.reason, 'slave_command_failed');
    assert.equal(p.error.code, 'GSYNCD_ERR_SLAVE_COMMAND');
    assert.equal(p.error.exitCode, 69);
    assert.equal(p.error.message,
      'cannot start the slave on root@10.0.0.2: "/opt/gsyncd --slave --timeout 120 file:///data" exited with status 127 (bash: line 1: /opt/gsyncd: No such file or directory); set --remote-gsyncd to the command that runs gsyncd there');
    assert.doesNotMatch(p.error.message, /\n/);
    const p126 = slaveStartProblem({ ...base, exitCode: 126, stderr: 'sh: 1: /opt/gsyncd: Permission denied' });
    assert.match(p126?.error.message ?? '', /exited with status 126 \(sh: 1: \/opt\/gsyncd: Permission denied\)/);
  });

  it('"command not found" on stderr without a status', () => {
    const p = slaveStartProblem({ ...base, stderr: 'zsh:1: command not found: gsyncd' });
    assert.equal(p?.reason, 'slave_command_failed');
    assert.match(p?.error.message ?? '', /"\/opt\/gsyncd --slave[^"]*" failed: zsh:1: command not found: gsyncd; set --remote-gsyncd/);
  });

  it('a protocol version mismatch, seen by either side', () => {
    for (const message of ['protocol version mismatch (master 1, slave 2)', 'hello: protocol version mismatch (master 1, slave 0)']) {
      const p = slaveStartProblem({ ...base, exitCode: 1, error: gsyncdError('GSYNCD_ERR_RPC', message) });
      assert.equal(p?.reason, 'version_mismatch', message);
      assert.match(p?.error.message ?? '', /speaks another gsyncd version: protocol version mismatch \(master 1, slave \d\); set --remote-gsyncd/);
    }
  });

  it('other failures are not a slave command problem: a slave that exits 1, a dropped connection, a timeout', () => {
    assert.equal(slaveStartProblem({ ...base, exitCode: 1, stderr: 'gsyncd: slave root /data is not a directory' }), null);
    assert.equal(slaveStartProblem({ ...base, exitCode: 0 }), null);
    assert.equal(slaveStartProblem(base), null);
    assert.equal(slaveStartProblem({ ...base, error: gsyncdError('GSYNCD_ERR_RPC', 'hello: no reply from peer within 60000 ms (timeout)') }), null);
  });

  it('quotes only the last stderr line, shortened', () => {
    const p = slaveStartProblem({ ...base, exitCode: 127, stderr: `motd line\n${'x'.repeat(500)}\n` });
    assert.ok(p);
    assert.doesNotMatch(p.error.message, /motd/);
    assert.ok(p.error.message.length < 420, String(p.error.message.length));
  });
});
