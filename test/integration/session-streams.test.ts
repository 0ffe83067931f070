// rsync inside the session: over ssh, every receiving rsync runs in the slave's RPC channel
// (capability `streams`), so sshd runs one command per session, not one per batch. The forced
// command here logs each request before it hands it to the dispatcher: after a sync of many
// small files and a file larger than the stream window, it saw one request
// (gsyncd --slave), and the trees are identical. A later pass that changes part of the large
// file goes through rsync's delta path (checksums back from the slave) the same way.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { compareTrees } from '../support/compare.js';
import { GSYNCD_BIN, gsyncd, logLines } from '../support/gsyncd.js';
import { twoHosts } from '../support/netns.js';
import { requireRoot, testCleanup, tmpDir } from '../support/proc.js';

function via(output: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const l of logLines(output)) if (typeof l['via'] === 'string' && l['command'] !== undefined) counts[`${l['command']}:${l['via']}`] = (counts[`${l['command']}:${l['via']}`] ?? 0) + 1;
  return counts;
}

test('over ssh, rsync runs inside the session: one command for sshd, trees identical past the stream window', { timeout: 600_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const hosts = await twoHosts(244, { cleanup: stack });
  const slaveDir = await tmpDir('streams-slave', stack);
  const masterDir = await tmpDir('streams-master', stack);
  const spool = await tmpDir('streams-requests', stack);
  const requests = path.join(spool, 'requests');
  const wrapper = path.join(spool, 'forced-command.sh');
  fs.writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\n' "$SSH_ORIGINAL_COMMAND" >> ${requests}\nexec ${process.execPath} ${GSYNCD_BIN} --dispatch --root ${slaveDir}\n`, { mode: 0o755 });
  await hosts.sshd.setAuthorizedKey(`command="${wrapper}",restrict ${hosts.sshd.clientKeyPub}`);
  const sshArgs = ['--ssh-identity', hosts.sshd.clientKeyPath, '--ssh-known-hosts', hosts.sshd.knownHostsFile];
  const slaveUrl = `ssh://root@${hosts.b.ip}:${hosts.sshd.port}:${slaveDir}`;
  const stateDir = await tmpDir('state', stack);

  for (let d = 0; d < 6; d++) {
    fs.mkdirSync(path.join(masterDir, `d${d}`, 'deeper'), { recursive: true });
    for (let f = 0; f < 40; f++) fs.writeFileSync(path.join(masterDir, `d${d}`, f % 2 ? 'deeper' : '', `f ${f}`), crypto.randomBytes(100 + f * 37));
  }
  const big = path.join(masterDir, 'big.bin');
  fs.writeFileSync(big, crypto.randomBytes(13 * 1024 * 1024 + 777));
  const once = (extra: string[] = []) => gsyncd(['--once', '--log-level', 'debug', '--state-dir', stateDir, ...extra, ...sshArgs, masterDir, slaveUrl],
    { prefix: hosts.a.execPrefix, timeoutMs: 240_000 });

  const first = await once();
  const out1 = first.stdout + first.stderr;
  assert.equal(first.code, 0, out1.slice(-6000));
  assert.deepEqual(compareTrees(masterDir, slaveDir), []);
  const runs = via(out1);
  assert.ok((runs['rsync:session'] ?? 0) >= 1, `rsync ran inside the session: ${JSON.stringify(runs)}`);
  assert.equal(runs['rsync:exec'] ?? 0, 0, JSON.stringify(runs));
  const seen = fs.readFileSync(requests, 'utf8').trim().split('\n');
  assert.equal(seen.length, 1, `sshd ran one command per session:\n${seen.join('\n')}`);
  assert.match(seen[0]!, /gsyncd.* --slave /);

  // Part of the big file changes: the receiver sends its block checksums back through the stream.
  const fd = fs.openSync(big, 'r+');
  fs.writeSync(fd, crypto.randomBytes(4096), 0, 4096, 6 * 1024 * 1024);
  fs.closeSync(fd);
  fs.writeFileSync(path.join(masterDir, 'd0', 'new after'), 'new\n');
  const second = await once();
  assert.equal(second.code, 0, (second.stdout + second.stderr).slice(-6000));
  assert.deepEqual(compareTrees(masterDir, slaveDir), []);
  const runs2 = via(second.stdout + second.stderr);
  assert.ok((runs2['rsync:session'] ?? 0) >= 1 && !runs2['rsync:exec'], JSON.stringify(runs2));
  assert.equal(fs.readFileSync(requests, 'utf8').trim().split('\n').length, 2, 'one more session, one more command');
});
