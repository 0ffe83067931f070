// `gsyncd status` finds a session as the daemon does: --state-file, --state-dir, MASTER SLAVE
// (the session key the daemon derives), -c CONFIG (its [peers] section too). Same verdicts.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseStatusArgs } from '../../../src/cli/status-args.js';
import { isGsyncdError } from '../../../src/core/errors.js';
import type { SessionState } from '../../../src/session/state-file.js';
import { sessionKey } from '../../../src/url/pair.js';
import { parseUrl } from '../../../src/url/url.js';
import { sessionState } from '../observe/support.js';
import { runCli, withTempDir } from './harness.js';

describe('parseStatusArgs', () => {
  it('the daemon\'s ways to name a session, in both spellings', () => {
    const a = parseStatusArgs(['--json', '--state-file', '/s/state.json', '-c', 'g.conf', '--state_dir=/s', '--session-name', 'x', '--http-url', 'http://h:1']);
    assert.equal(a.json, true);
    assert.equal(a.configFile, 'g.conf');
    assert.equal(a.httpUrl, 'http://h:1');
    assert.deepEqual([...a.tunables], [
      ['state-file', { value: '/s/state.json', flag: '--state-file' }],
      ['state-dir', { value: '/s', flag: '--state_dir' }],
      ['session-name', { value: 'x', flag: '--session-name' }],
    ]);
    assert.deepEqual(parseStatusArgs(['/m', 'h:/s']).positionals, ['/m', 'h:/s']);
    assert.deepEqual(parseStatusArgs(['--config-file=/g.conf']).configFile, '/g.conf');
    assert.equal(parseStatusArgs(['-h']).help, true);
  });

  it('bad input is one precise usage error', () => {
    const fails = (argv: string[], code: string, message: RegExp) => assert.throws(() => parseStatusArgs(argv),
      (e: unknown) => isGsyncdError(e) && e.code === code && message.test(e.message) && !e.message.includes('\n'));
    fails(['--sync-jobs', '3'], 'GSYNCD_ERR_UNKNOWN_OPTION', /^unknown status option '--sync-jobs' \(expected .*--state-file FILE/);
    fails(['--state-file'], 'GSYNCD_ERR_USAGE', /^status: --state-file needs a value$/);
    fails(['--json=yes'], 'GSYNCD_ERR_USAGE', /does not take a value/);
    fails(['/m'], 'GSYNCD_ERR_USAGE', /^status: expected MASTER and SLAVE URLs or none, got 1 argument$/);
    fails(['/m', '/s', '/t'], 'GSYNCD_ERR_USAGE', /got 3 arguments$/);
  });
});

const now = Date.now();
const inSync = (session: string): SessionState => sessionState({ session, syncedUpTo: now - 1000, pid: process.pid });
const faulty = (session: string): SessionState => sessionState({ session, workerState: 'faulty', syncedUpTo: now - 1000, pid: process.pid });

async function put(file: string, s: SessionState): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, JSON.stringify(s));
}

type Doc = { verdict: string; sessions: { session: string }[] };
const sessionsOf = (stdout: string) => (JSON.parse(stdout) as Doc).sessions.map((s) => s.session);

describe('gsyncd status: which session', () => {
  it('--state-file FILE: that session only, its verdict and exit code', () => withTempDir(async (dir) => {
    const file = join(dir, 'custom', 'state.json');
    await put(file, faulty('custom'));
    await put(join(dir, 'other', 'state.json'), inSync('other'));
    const r = await runCli(['status', '--json', '--state-file', file, '--state-dir', dir]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal((JSON.parse(r.stdout) as Doc).verdict, 'degraded');
    assert.deepEqual(sessionsOf(r.stdout), ['custom']);
    // Relative to the working directory, as the daemon takes it.
    const rel = await runCli(['status', '--json', '--state-file', 'custom/state.json'], { cwd: dir });
    assert.deepEqual([rel.code, sessionsOf(rel.stdout)], [1, ['custom']]);
  }));

  it('--state-dir DIR: every session there, as before', () => withTempDir(async (dir) => {
    await put(join(dir, 'a', 'state.json'), inSync('a'));
    await put(join(dir, 'b', 'state.json'), faulty('b'));
    const r = await runCli(['status', '--json', '--state-dir', dir]);
    assert.deepEqual([r.code, sessionsOf(r.stdout)], [1, ['a', 'b']]);
    const env = await runCli(['status', '--json'], { env: { GSYNCD_STATE_DIR: dir } });
    assert.deepEqual([env.code, sessionsOf(env.stdout)], [1, ['a', 'b']]);
  }));

  it('MASTER SLAVE: the session key the daemon derives (any spelling of the URLs), or --session-name', () => withTempDir(async (dir) => {
    const key = sessionKey(parseUrl('/srv/m'), parseUrl('root@host:/srv/s'));
    await put(join(dir, key, 'state.json'), inSync(key));
    await put(join(dir, 'other', 'state.json'), faulty('other'));
    for (const slave of ['root@host:/srv/s', 'ssh://root@host:/srv/s']) {
      const r = await runCli(['status', '--json', '--state-dir', dir, '/srv/m', slave]);
      assert.deepEqual([r.code, sessionsOf(r.stdout)], [0, [key]], r.stderr);
    }
    const named = await runCli(['status', '--json', '--state-dir', dir, '--session-name', 'other', '/srv/m', 'root@host:/srv/s']);
    assert.deepEqual([named.code, sessionsOf(named.stdout)], [1, ['other']]);
    // A pair no daemon ran: no state, verdict unknown (exit 3).
    const none = await runCli(['status', '--json', '--state-dir', dir, '/srv/x', 'root@host:/srv/s']);
    assert.equal(none.code, 3);
  }));

  it('-c CONFIG: its state-dir, and the state-file of the pair\'s [peers] section', () => withTempDir(async (dir) => {
    const conf = join(dir, 'g.conf');
    const pairFile = join(dir, 'pair-state.json');
    await writeFile(conf, `state-dir: ${join(dir, 'states')}\n[peers /srv/m root@host:/srv/s]\nstate-file: ${pairFile}\n`);
    await put(join(dir, 'states', 'a', 'state.json'), inSync('a'));
    await put(pairFile, faulty('pair'));
    const all = await runCli(['status', '--json', '-c', conf]);
    assert.deepEqual([all.code, sessionsOf(all.stdout)], [0, ['a']]);
    const pair = await runCli(['status', '--json', '-c', conf, '/srv/m', 'root@host:/srv/s']);
    assert.deepEqual([pair.code, sessionsOf(pair.stdout)], [1, ['pair']]);
  }));

  it('errors: one line, exit 64 (usage) or 78 (config)', () => withTempDir(async (dir) => {
    const r = await runCli(['status', '--state-fil', 'x']);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /^gsyncd: unknown status option '--state-fil' \(expected [^\n]*\)\n$/);
    const url = await runCli(['status', '/srv/m', '/srv/m']);
    assert.equal(url.code, 64, url.stderr);
    const conf = join(dir, 'bad.conf');
    await writeFile(conf, 'stall-timeout: soon\n');
    const bad = await runCli(['status', '-c', conf]);
    assert.equal(bad.code, 78);
    assert.match(bad.stderr, /^gsyncd: .*bad\.conf:1: bad value for stall-timeout/);
    assert.equal((await runCli(['status', '-c', join(dir, 'missing.conf')])).code, 78);
  }));
});
