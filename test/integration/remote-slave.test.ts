// Remote slave over SSH: the master in one network namespace, the slave host (real OpenSSH sshd,
// forced-command dispatcher in authorized_keys) in another. One TCP connection carries the RPC
// and every rsync; a wrong host key is refused before anything is sent.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { twoHosts } from '../support/netns.js';
import { getAttributeSync, listAttributesSync, setAttributeSync } from '@napi-rs/xattr';
import { GSYNCD_BIN, gsyncd } from '../support/gsyncd.js';
import { mustRun, requireRoot, testCleanup, tmpDir } from '../support/proc.js';
import { runSyncScenario } from './sync-scenarios.js';

/** A process and its descendants (the monitor's worker, its rsync and bridges). */
function processTree(pid: number): number[] {
  const kids = (p: number): number[] => {
    try {
      return fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...kids(out[i]!));
  return out;
}

/** Established TCP connections of a process tree (monitor + worker + children) to a peer port. */
async function connectionsOf(netnsPrefix: readonly string[], pid: number, port: number): Promise<string[]> {
  const out = (await mustRun(netnsPrefix[0]!, [...netnsPrefix.slice(1), 'ss', '-Htnp', 'state', 'established'])).stdout;
  const pids = processTree(pid);
  return out.split('\n').filter((l) => l.includes(`:${port}`) && pids.some((p) => new RegExp(`pid=${p}[,)]`).test(l)));
}

test('directory → ssh://host:/path across two network hosts, forced command, one connection', { timeout: 600_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const hosts = await twoHosts(210, { cleanup: stack });
  const slaveDir = await tmpDir('remote-slave', stack);
  const masterDir = await tmpDir('master', stack);
  // The slave host allows this key to run only the dispatcher, confined to slaveDir.
  await hosts.sshd.setAuthorizedKey(`command="${process.execPath} ${GSYNCD_BIN} --dispatch --root ${slaveDir}",restrict ${hosts.sshd.clientKeyPub}`);
  const sshArgs = ['--ssh-identity', hosts.sshd.clientKeyPath, '--ssh-known-hosts', hosts.sshd.knownHostsFile];
  const port = hosts.sshd.port;
  const stateDir = await tmpDir('state', stack);
  const slaveUrl = `ssh://root@${hosts.b.ip}:${port}:${slaveDir}`;
  await runSyncScenario({
    master: { url: masterDir, dir: masterDir },
    slave: { url: slaveUrl, dir: slaveDir },
    stateDir,
    extraArgs: sshArgs,
    prefix: hosts.a.execPrefix,
    whileRunning: async (pid) => {
      // The session's RPC channel and all its rsync runs share one TCP connection.
      fs.writeFileSync(path.join(masterDir, 'one-more'), 'x'.repeat(100_000));
      const conns = await connectionsOf(hosts.a.execPrefix, pid, port);
      assert.equal(conns.length, 1, `expected exactly one ssh connection, saw:\n${conns.join('\n')}`);
    },
    log: (m) => t.diagnostic(m),
  });
  // Marks survive rsync carrying xattrs to a remote receiver, which without receiver-side
  // filters deletes every xattr the sender does not have: another session's mark on a directory
  // whose attributes are sent again (this session's own would be written anew after the pass).
  const otherMark = 'trusted.gsyncd.00000000-0000-4000-8000-000000000000.xtime';
  setAttributeSync(path.join(slaveDir, 'docs'), otherMark, Buffer.from('another session'));
  fs.utimesSync(path.join(masterDir, 'docs'), new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
  const again = await gsyncd(['--once', '--state-dir', stateDir, ...sshArgs, masterDir, slaveUrl], { prefix: hosts.a.execPrefix });
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal(fs.statSync(path.join(slaveDir, 'docs')).mtime.toISOString(), '2020-01-01T00:00:00.000Z', 'the directory attributes were sent');
  assert.equal(getAttributeSync(path.join(slaveDir, 'docs'), otherMark)?.toString(), 'another session', `marks on the slave dir: ${listAttributesSync(path.join(slaveDir, 'docs')).join(', ')}`);
});

test('a slave whose host key is not the known one is refused: exit 69, nothing sent', { timeout: 120_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const hosts = await twoHosts(211, { cleanup: stack });
  const slaveDir = await tmpDir('remote-slave', stack);
  const masterDir = await tmpDir('master', stack);
  fs.writeFileSync(path.join(masterDir, 'secret-data'), 'must not leave');
  await hosts.sshd.setAuthorizedKey(`command="${process.execPath} ${GSYNCD_BIN} --dispatch --root ${slaveDir}",restrict ${hosts.sshd.clientKeyPub}`);
  // A known_hosts that lists another key for this host: a changed host key.
  const wrong = path.join(await tmpDir('kh', stack), 'known_hosts');
  const otherKey = 'AAAAC3NzaC1lZDI1NTE5AAAAIGm3KzIYxOGm1xJxG8o0p2qqV3v6Xl9sYk5b0X2qKp1c';
  const hostName = hosts.sshd.port === 22 ? hosts.b.ip : `[${hosts.b.ip}]:${hosts.sshd.port}`;
  fs.writeFileSync(wrong, `${hostName} ssh-ed25519 ${otherKey}\n`);
  const r = await gsyncd(['--once', '--state-dir', await tmpDir('state', stack), '--ssh-identity', hosts.sshd.clientKeyPath, '--ssh-known-hosts', wrong,
    masterDir, `ssh://root@${hosts.b.ip}:${hosts.sshd.port}:${slaveDir}`], { prefix: hosts.a.execPrefix });
  assert.equal(r.code, 69, `expected exit 69, got ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /HOST KEY .* HAS CHANGED/);
  assert.deepEqual(fs.readdirSync(slaveDir), [], 'nothing may reach the slave');
  // And an unknown host (empty known_hosts) is refused too.
  fs.writeFileSync(wrong, '');
  const r2 = await gsyncd(['--once', '--state-dir', await tmpDir('state', stack), '--ssh-identity', hosts.sshd.clientKeyPath, '--ssh-known-hosts', wrong,
    masterDir, `ssh://root@${hosts.b.ip}:${hosts.sshd.port}:${slaveDir}`], { prefix: hosts.a.execPrefix });
  assert.equal(r2.code, 69);
  assert.match(r2.stderr, /not in known_hosts/);
  assert.deepEqual(fs.readdirSync(slaveDir), []);
});

test('the forced command refuses a shell and an rsync aimed outside the slave root', { timeout: 120_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const hosts = await twoHosts(212, { cleanup: stack });
  const slaveDir = await tmpDir('remote-slave', stack);
  await hosts.sshd.setAuthorizedKey(`command="${process.execPath} ${GSYNCD_BIN} --dispatch --root ${slaveDir}",restrict ${hosts.sshd.clientKeyPub}`);
  for (const cmd of ['sh -c id', 'cat /etc/shadow', 'rsync --server -logDtpre.iLsfxCIvu . /etc/', `rsync --server -logDtpre.iLsfxCIvu . ${slaveDir}/../`, 'rsync --server --sender -logDtpre.iLsfxCIvu . /']) {
    const r = await hosts.sshd.ssh(cmd.split(' '), { prefix: hosts.a.execPrefix });
    assert.notEqual(r.code, 0, `${cmd} must be refused`);
    assert.match(r.stderr, /refused/, `${cmd}: ${r.stderr}`);
  }
});
