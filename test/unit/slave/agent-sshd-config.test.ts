// What sshd is given, on in-memory text: the rendered sshd_config, the forced authorized_keys,
// and what is read back from `sshd -V` / `sshd -T`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  dispatchCommand, forcedAuthorizedKeys, parseOpenSshVersion, portOfSshdT, renderSshdConfig, supportsPenaltyExempt,
} from '../../../src/slave/agent-sshd-config.js';

let tmp: string;
before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gsyncd-sshd-config-')); });
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('sshd configuration', () => {
  it('renders the options the brief requires', () => {
    const text = renderSshdConfig({
      port: 2222, hostKeys: ['/run/a/host_keys/ssh_host_ed25519_key', '/run/a/host_keys/ssh_host_rsa_key'], pidFile: '/run/a/sshd.pid',
      authorizedKeysFile: '/run/a/authorized_keys', usePam: false, agentSocket: '/run/gsyncd/agent.sock',
    });
    const lines = text.trim().split('\n');
    for (const want of ['Port 2222', 'HostKey /run/a/host_keys/ssh_host_ed25519_key', 'HostKey /run/a/host_keys/ssh_host_rsa_key', 'PidFile /run/a/sshd.pid',
      'AuthorizedKeysFile /run/a/authorized_keys', 'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'UsePAM no',
      'SetEnv GSYNCD_AGENT_SOCKET=/run/gsyncd/agent.sock']) {
      assert.ok(lines.includes(want), `missing ${want}:\n${text}`);
    }
    assert.ok(!lines.some((l) => l.startsWith('PerSourcePenalty')));
    assert.ok(!lines.some((l) => /^Subsystem/.test(l)), 'no sftp');
    const other = renderSshdConfig({ port: 22, hostKeys: ['/k k/key'], pidFile: '/p', usePam: true, agentSocket: '/a b/s', penaltyExempt: true });
    assert.match(other, /^HostKey "\/k k\/key"$/m);
    assert.match(other, /^SetEnv "GSYNCD_AGENT_SOCKET=\/a b\/s"$/m);
    assert.match(other, /^UsePAM yes$/m);
    assert.match(other, /^PerSourcePenaltyExemptList 127\.0\.0\.1\/32,::1\/128$/m);
    assert.doesNotMatch(other, /AuthorizedKeysFile/, 'sshd default when no file is given');
  });

  it('sshd -t accepts the rendered configuration', { skip: !fs.existsSync('/usr/sbin/sshd') || process.getuid?.() !== 0 }, () => {
    const key = path.join(tmp, 'ssh_host_ed25519_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const file = path.join(tmp, 'sshd_config');
    fs.writeFileSync(file, renderSshdConfig({ port: 2222, hostKeys: [key], pidFile: path.join(tmp, 'sshd.pid'), authorizedKeysFile: path.join(tmp, 'ak'), usePam: false, agentSocket: '/run/gsyncd/agent.sock' }));
    fs.mkdirSync('/run/sshd', { recursive: true });
    execFileSync('/usr/sbin/sshd', ['-t', '-f', file]);
  });

  it('authorized_keys: plain keys get the forced dispatcher, option lines need their own command=', () => {
    const forced = dispatchCommand('/data', ['gv0'], ['/usr/bin/node', '/usr/lib/gsyncd/bin/gsyncd.js']);
    assert.equal(forced, '/usr/bin/node /usr/lib/gsyncd/bin/gsyncd.js --dispatch --root /data --allow-volume gv0');
    assert.equal(dispatchCommand("/my data/it's", [], ['gsyncd']), `gsyncd --dispatch --root '/my data/it'\\''s'`);
    assert.equal(dispatchCommand('/data', [], ['gsyncd'], true), 'gsyncd --dispatch --root /data --allow-tar');
    const input = [
      '# the master',
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA1 master@a',
      '',
      'command="gsyncd --dispatch --root /other" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA2 b',
      'restrict,command="gsyncd --dispatch --root /x" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA3 c',
      'no-pty,from="10.0.0.0/8" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA4 shell-allowing',
      'ecdsa-sha2-nistp256 AAAAE2VjZHNh d\r',
    ].join('\n');
    const out = forcedAuthorizedKeys(input, forced);
    assert.equal(out.keys, 4);
    assert.equal(out.skipped, 1);
    assert.deepEqual(out.text.trim().split('\n'), [
      `command="${forced}",restrict ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA1 master@a`,
      'restrict,command="gsyncd --dispatch --root /other" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA2 b',
      'restrict,command="gsyncd --dispatch --root /x" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA3 c',
      `command="${forced}",restrict ecdsa-sha2-nistp256 AAAAE2VjZHNh d`,
    ]);
    assert.match(forcedAuthorizedKeys('ssh-ed25519 AAAA k', 'a "quoted" \\ cmd').text, /^command="a \\"quoted\\" \\\\ cmd",restrict /);
  });
});

describe('what sshd says about itself', () => {
  it('the OpenSSH version of `sshd -V`, and whether PerSourcePenaltyExemptList exists', () => {
    assert.deepEqual(parseOpenSshVersion('OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024\n'), [9, 2]);
    assert.deepEqual(parseOpenSshVersion('unknown option -- V\nOpenSSH_10.0p2, LibreSSL 4.0.0\nusage: sshd'), [10, 0]);
    assert.equal(parseOpenSshVersion('sshd: command not found'), null);
    assert.equal(supportsPenaltyExempt([9, 2]), false);
    assert.equal(supportsPenaltyExempt([9, 8]), true);
    assert.equal(supportsPenaltyExempt([10, 0]), true);
    assert.equal(supportsPenaltyExempt([8, 9]), false);
    assert.equal(supportsPenaltyExempt(null), false, 'unknown version: leave the option out (older sshd refuses it)');
  });

  it('the port of `sshd -T`, 22 when it names none', () => {
    assert.equal(portOfSshdT('addressfamily any\nport 2222\nlistenaddress [::]:2222\n'), 2222);
    assert.equal(portOfSshdT('port 2222\nport 2223\n'), 2222, 'the first Port line');
    assert.equal(portOfSshdT('logingracetime 120\n'), 22);
    assert.equal(portOfSshdT(''), 22, 'sshd -T failed');
    assert.equal(portOfSshdT('gatewayports no\n'), 22, 'only a line that is `port N`');
  });
});
