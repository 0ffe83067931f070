// --remote-gsyncd defaults to the command that runs this gsyncd (the original's default was the
// absolute path of the running program), so a slave host with the same layout needs no flag.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { binScript, remoteGsyncdFor } from '../../../src/options/package-info.js';
import { runCli } from './harness.js';

const session = ['/srv/m', 'backup@host:/srv/s'];
const thisCommand = `${process.execPath} ${binScript}`;

describe('--remote-gsyncd default', () => {
  it('is this node and this installation\'s bin/gsyncd.js, by absolute path', () => {
    assert.equal(remoteGsyncdFor('/usr/bin/node', '/opt/gsyncd/bin/gsyncd.js'), '/usr/bin/node /opt/gsyncd/bin/gsyncd.js');
    assert.ok(fs.statSync(binScript).isFile(), binScript);
    assert.match(binScript, /^\/.*\/bin\/gsyncd\.js$/);
  });

  it('falls back to gsyncd on PATH when a path has whitespace (the option is split on it)', () => {
    assert.equal(remoteGsyncdFor('/opt/my node/node', '/opt/gsyncd/bin/gsyncd.js'), 'gsyncd');
    assert.equal(remoteGsyncdFor('/usr/bin/node', '/home/a b/gsyncd/bin/gsyncd.js'), 'gsyncd');
  });

  it('is what a session gets, and what --config-get prints, unless set', async () => {
    const r = await runCli(session);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.engine?.opts.get('remote-gsyncd'), thisCommand);
    assert.equal((await runCli(['--config-get', 'remote-gsyncd'])).stdout, `${thisCommand}\n`);
    const set = await runCli(['--remote-gsyncd', '/usr/local/bin/gsyncd', ...session]);
    assert.equal(set.engine?.opts.get('remote-gsyncd'), '/usr/local/bin/gsyncd');
    const env = await runCli(session, { env: { GSYNCD_REMOTE_GSYNCD: 'gsyncd' } });
    assert.equal(env.engine?.opts.get('remote-gsyncd'), 'gsyncd');
  });

  it('--help shows the derived command as the default', async () => {
    const r = await runCli(['--help']);
    const line = r.stdout.split('\n').find((l) => l.includes('--remote-gsyncd'));
    assert.ok(line, r.stdout);
    assert.ok(r.stdout.includes(`[default: ${thisCommand}]`), r.stdout);
  });
});
