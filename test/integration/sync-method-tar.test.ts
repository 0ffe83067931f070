// --sync-method tar|auto: file data by GNU tar streams instead of rsync runs. Odd names, user
// xattrs, ACLs, symlinks and nanosecond times arrive as with rsync; a second pass after changes
// converges; a file that vanishes before tar reads it leaves its directory unmarked; over ssh
// the receiving tar goes through the session connection (or an OpenSSH client) and the slave's
// dispatcher.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { getAttributeSync, listAttributesSync, setAttributeSync } from '@napi-rs/xattr';
import { compareTrees } from '../support/compare.js';
import { GSYNCD_BIN, gsyncd, logLines } from '../support/gsyncd.js';
import { twoHosts } from '../support/netns.js';
import { requireRoot, testCleanup, tmpDir } from '../support/proc.js';
import { NON_UTF8 } from '../support/workload.js';
import { runSyncScenario } from './sync-scenarios.js';

const name = (root: string, ...parts: (string | Buffer)[]) => Buffer.concat([Buffer.from(root), ...parts.flatMap((x) => [Buffer.from('/'), Buffer.from(x)])]);

/** Set a file's or symlink's mtime to the nanosecond (Node's utimes goes through a double). */
function touchNs(file: Buffer, stamp: string): void {
  execFileSync('touch', ['-h', '-d', stamp, file.toString('latin1')], { encoding: 'latin1' });
}

function markOf(dir: string): bigint | null {
  const key = listAttributesSync(dir).find((k) => /^trusted\.gsyncd\..*\.xtime$/.test(k));
  const v = key ? getAttributeSync(dir, key) : null;
  return v ? (BigInt(v.readUInt32BE(0)) << 32n) | BigInt(v.readUInt32BE(4)) : null;
}

/** Transfers a run logged (debug): how many by tar streams, how many rsync runs. */
function transfers(output: string): { tar: number; rsync: number; tarFiles: number } {
  const runs = logLines(output).filter((l) => l['msg'] === 'tar stream run' || l['msg'] === 'rsync run');
  const tar = runs.filter((l) => l['via'] === 'tar');
  return { tar: tar.length, rsync: runs.length - tar.length, tarFiles: tar.reduce((n, l) => n + Number(l['files']), 0) };
}

function oddTree(root: string): void {
  fs.mkdirSync(name(root, 'dir with spaces'));
  fs.writeFileSync(name(root, 'dir with spaces', 'a file'), 'spaces\n');
  fs.writeFileSync(name(root, 'line\nbreak'), 'newline\n');
  fs.writeFileSync(name(root, NON_UTF8), 'not utf-8\n');
  fs.writeFileSync(name(root, '-leading-dash'), 'dash\n');
  fs.writeFileSync(name(root, 'colon:and\\backslash'), 'colon\n');
  fs.writeFileSync(name(root, 'tagged'), 'xattrs\n');
  setAttributeSync(path.join(root, 'tagged'), 'user.color', Buffer.from('red'));
  setAttributeSync(path.join(root, 'tagged'), 'user.bin', Buffer.from([0, 1, 2, 255]));
  fs.writeFileSync(name(root, 'acl'), 'acl\n');
  execFileSync('setfacl', ['-m', 'u:1234:rw,g:5678:r', path.join(root, 'acl')]);
  fs.writeFileSync(name(root, 'owned'), 'owned\n');
  fs.chownSync(path.join(root, 'owned'), 1234, 5678);
  fs.chmodSync(path.join(root, 'owned'), 0o640);
  fs.symlinkSync('dir with spaces/a file', name(root, 'link'));
  fs.symlinkSync('/nonexistent/target', name(root, 'dangling'));
  touchNs(name(root, 'tagged'), '2021-03-04 05:06:07.123456789');
  touchNs(name(root, 'link'), '2020-01-01 00:00:00.987654321');
  touchNs(name(root, 'dir with spaces', 'a file'), '2019-05-06 07:08:09.000000001');
}

test('directory → directory by tar streams: odd names, xattrs, ACLs, symlinks, ns times; a second pass after changes', { timeout: 180_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const master = await tmpDir('master', stack);
  const slave = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  oddTree(master);
  const once = () => gsyncd(['--once', '--sync-method', 'tar', '--log-level', 'debug', '--state-dir', stateDir, '--session-name', 'tar', master, slave], { timeoutMs: 120_000 });

  const first = await once();
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(compareTrees(master, slave), [], 'slave equals master after the first pass');
  const t1 = transfers(first.stdout + first.stderr);
  assert.ok(t1.tar >= 1 && t1.tarFiles >= 10, `the data went by tar: ${JSON.stringify(t1)}`);
  assert.equal(fs.lstatSync(path.join(slave, 'tagged'), { bigint: true }).mtimeNs, 1614834367123456789n);
  assert.equal(getAttributeSync(path.join(slave, 'tagged'), 'user.color')?.toString(), 'red');
  assert.match(execFileSync('getfacl', ['-c', path.join(slave, 'acl')], { encoding: 'utf8' }), /user:1234:rw-/);

  // Rewrite (same size and a different one), rename, delete; a new odd name.
  fs.writeFileSync(name(master, '-leading-dash'), 'DASH\n');
  fs.writeFileSync(name(master, 'tagged'), 'rewritten, longer\n');
  setAttributeSync(path.join(master, 'tagged'), 'user.color', Buffer.from('blue'));
  fs.renameSync(name(master, NON_UTF8), name(master, 'dir with spaces', 'renamed\nhere'));
  fs.rmSync(name(master, 'line\nbreak'));
  fs.rmSync(name(master, 'dangling'));
  fs.writeFileSync(name(master, 'dir with spaces', Buffer.from([0xe9, 0x74, 0xe9])), 'latin1 name\n');
  touchNs(name(master, '-leading-dash'), '2022-02-02 02:02:02.222222222');
  const second = await once();
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(compareTrees(master, slave), [], 'slave equals master after the changes');
  assert.ok(transfers(second.stdout + second.stderr).tar >= 1, 'the changed files went by tar');
  assert.equal(fs.readFileSync(path.join(slave, '-leading-dash'), 'utf8'), 'DASH\n');
});

test('auto: a batch of many small files goes by tar, a big file by rsync', { timeout: 120_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const master = await tmpDir('master', stack);
  const slave = await tmpDir('slave', stack);
  for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(master, `small-${i}`), `${i}\n`.repeat(i + 1));
  fs.writeFileSync(path.join(master, 'big'), Buffer.alloc(1 << 20, 7));
  const r = await gsyncd(['--once', '--sync-method', 'auto', '--sync-jobs', '2', '--log-level', 'debug', '--state-dir', await tmpDir('state', stack), master, slave], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(compareTrees(master, slave), []);
  const runs = transfers(r.stdout + r.stderr);
  assert.equal(runs.tarFiles, 40, JSON.stringify(runs));
  assert.ok(runs.rsync >= 1, 'the big file (and directory attributes) by rsync');
});

test('a file that vanishes before tar reads it is not marked synced; a later pass converges', { timeout: 120_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const master = await tmpDir('master', stack);
  const slave = await tmpDir('slave', stack);
  const stateDir = await tmpDir('state', stack);
  const work = await tmpDir('work', stack);
  for (const d of ['v', 'w']) {
    fs.mkdirSync(path.join(master, d));
    fs.writeFileSync(path.join(master, d, 'keep'), `${d}\n`);
  }
  // tar wrapper: after the trigger, the creating tar starts only once v/gone is removed.
  const trigger = path.join(work, 'trigger');
  const wrapper = path.join(work, 'tar-after-remove.sh');
  fs.writeFileSync(wrapper, `#!/bin/sh\ncase " $* " in *" --create "*) if [ -e '${trigger}' ]; then rm -f '${trigger}' '${master}/v/gone'; fi ;; esac\nexec tar "$@"\n`, { mode: 0o755 });
  const pass = (extra: string[] = []) => gsyncd(['--sync-method', 'tar', '--tar-command', wrapper, '--max-rsync-retries', '1', '--state-dir', stateDir, '--session-name', 'vanish', ...extra, master, slave], { timeoutMs: 60_000 });
  const p1 = await pass(['--once']);
  assert.equal(p1.code, 0, p1.stderr);
  const v1 = markOf(path.join(slave, 'v'));
  const w1 = markOf(path.join(slave, 'w'));
  assert.ok(v1 && w1, 'both directories marked after the first pass');

  await new Promise((r) => setTimeout(r, 1100)); // a later second for the new marks
  fs.writeFileSync(path.join(master, 'v', 'gone'), 'listed, then removed before tar reads it\n');
  fs.writeFileSync(path.join(master, 'w', 'new'), 'sent\n');
  fs.writeFileSync(trigger, '');
  const p2 = await pass(['--turns', '1', '--log-level', 'debug']);
  assert.ok(!fs.existsSync(trigger), 'the wrapper ran');
  assert.ok(logLines(p2.stdout + p2.stderr, 'some files vanished on the master during transfer; their directories are revisited').length >= 1, p2.stderr.slice(-3000));
  assert.ok(!fs.existsSync(path.join(slave, 'v', 'gone')));
  assert.equal(markOf(path.join(slave, 'v')), v1, 'the directory holding the vanished file keeps its old mark');
  assert.ok(markOf(path.join(slave, 'w'))! > w1!, 'the other directory got a newer mark');
  assert.equal(fs.readFileSync(path.join(slave, 'w', 'new'), 'utf8'), 'sent\n');

  const p3 = await pass(['--once']);
  assert.equal(p3.code, 0, p3.stderr);
  assert.deepEqual(compareTrees(master, slave), [], 'slave equals master');
});

test('directory → ssh://host:/path by tar through the session connection and the dispatcher (--allow-tar)', { timeout: 600_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const hosts = await twoHosts(233, { cleanup: stack });
  const slaveDir = await tmpDir('remote-slave', stack);
  const masterDir = await tmpDir('master', stack);
  await hosts.sshd.setAuthorizedKey(`command="${process.execPath} ${GSYNCD_BIN} --dispatch --root ${slaveDir} --allow-tar",restrict ${hosts.sshd.clientKeyPub}`);
  const sshArgs = ['--ssh-identity', hosts.sshd.clientKeyPath, '--ssh-known-hosts', hosts.sshd.knownHostsFile];
  const slaveUrl = `ssh://root@${hosts.b.ip}:${hosts.sshd.port}:${slaveDir}`;
  const stateDir = await tmpDir('state', stack);
  // The odd names first (aside: the scenario's tree comes next), by one pass whose log shows the streams.
  fs.mkdirSync(path.join(masterDir, 'odd'));
  oddTree(path.join(masterDir, 'odd'));
  const first = await gsyncd(['--once', '--sync-method', 'tar', '--log-level', 'debug', '--state-dir', stateDir, ...sshArgs, masterDir, slaveUrl], { prefix: hosts.a.execPrefix, timeoutMs: 120_000 });
  assert.equal(first.code, 0, (first.stdout + first.stderr).slice(-6000));
  assert.deepEqual(compareTrees(masterDir, slaveDir), []);
  const runs = transfers(first.stdout + first.stderr);
  assert.ok(runs.tar >= 1 && runs.tarFiles >= 10, JSON.stringify(runs));
  // The dispatcher allows tar, so the slave runs it inside the session (no exec channel per stream).
  const started = logLines(first.stdout + first.stderr).filter((l) => l['command'] === 'tar');
  assert.ok(started.length >= 1 && started.every((l) => l['via'] === 'session'), JSON.stringify(started));
  // Then the whole core scenario (mixed tree, continuous changes) with tar.
  await runSyncScenario({
    master: { url: masterDir, dir: masterDir },
    slave: { url: slaveUrl, dir: slaveDir },
    stateDir,
    extraArgs: ['--sync-method', 'tar', ...sshArgs],
    prefix: hosts.a.execPrefix,
    log: (m) => t.diagnostic(m),
  });
  // Through an OpenSSH client (--ssh-command) too: the receiving tar is `ssh ... HOST tar --extract ...`.
  fs.writeFileSync(name(masterDir, 'odd', 'by openssh'), 'openssh\n');
  fs.writeFileSync(name(masterDir, 'odd', '-leading-dash'), 'changed by openssh\n');
  const viaOpenSsh = await gsyncd(['--once', '--sync-method', 'tar', '--ssh-command', 'ssh', '--log-level', 'debug', '--state-dir', stateDir, ...sshArgs, masterDir, slaveUrl], { prefix: hosts.a.execPrefix, timeoutMs: 120_000 });
  assert.equal(viaOpenSsh.code, 0, (viaOpenSsh.stdout + viaOpenSsh.stderr).slice(-6000));
  assert.ok(transfers(viaOpenSsh.stdout + viaOpenSsh.stderr).tarFiles >= 2);
  assert.deepEqual(compareTrees(masterDir, slaveDir), []);
});
