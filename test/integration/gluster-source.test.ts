// GlusterSource, AuxMount, volumeInfo and the gluster slave against a real GlusterFS volume:
// a two-brick distributed volume (so root xtime is DHT's aggregate, which needs the volume-mark
// read first), written through an ordinary FUSE mount (writes through a --client-pid=-1 mount
// do not move xtime). Needs root and glusterd; fails (never skips) otherwise.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isGsyncdError } from '../../src/core/errors.js';
import { compareXtime, formatXtime, type Xtime } from '../../src/core/xtime.js';
import { liveMounts } from '../../src/gluster/mount-cleanup.js';
import { AuxMount } from '../../src/gluster/mount.js';
import { parseVolumeInfoXml, volumeInfo } from '../../src/gluster/volume.js';
import { decodeVolumeMark, glusterSlaveMarkKey, slaveMarkKey } from '../../src/gluster/xattr-names.js';
import type { EngineLog } from '../../src/log/logger.js';
import { GlusterSource, type GlusterSourceOptions } from '../../src/master/gluster-source.js';
import { openGlusterSlave } from '../../src/slave/gluster-slave.js';
import { createVolume, readXattr, type Volume } from '../support/gluster.js';
import { mountsBelow, requireRoot, requireTools, run, sleep, tmpDir, waitFor } from '../support/proc.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const logged: { level: string; msg: string; obj: object }[] = [];
const log: EngineLog = {
  debug: (obj, msg) => logged.push({ level: 'debug', msg, obj }),
  info: (obj, msg) => logged.push({ level: 'info', msg, obj }),
  warn: (obj, msg) => logged.push({ level: 'warn', msg, obj }),
  error: (obj, msg) => logged.push({ level: 'error', msg, obj }),
};

let vol: Volume;
let fuse: string;
let mountBase: string;

function options(extra: Partial<GlusterSourceOptions> = {}): GlusterSourceOptions {
  // No read mount unless a test asks for one: most tests here count the master's aux mounts.
  return { host: 'localhost', volume: vol.name, connectionTimeoutSec: 30, log, mountBaseDir: mountBase, readCacheSec: 0, ...extra };
}

/** Mount points (any fs) below our mount base. */
const auxMountsLeft = () => mountsBelow(mountBase);

async function started(extra: Partial<GlusterSourceOptions> = {}): Promise<GlusterSource> {
  const src = new GlusterSource(options(extra));
  await src.start();
  return src;
}

/** Poll rootXtime() until it is newer than `than` (marker propagation is asynchronous). */
async function rootNewerThan(src: GlusterSource, than: Xtime | null, timeoutMs = 10_000): Promise<Xtime> {
  return waitFor(async () => {
    const x = await src.rootXtime();
    return x && (!than || compareXtime(x, than) > 0) ? x : null;
  }, { what: `root xtime newer than ${than ? formatXtime(than) : 'nothing'}`, timeoutMs, intervalMs: 20 });
}

before(async () => {
  requireRoot();
  requireTools(['gluster', 'glusterd', 'glusterfs', 'getfattr', 'mount', 'umount']);
  vol = await createVolume({ bricks: 2 });
  fuse = await vol.fuseMount();
  mountBase = await tmpDir('gsrc-mounts');
});

test('start() mounts the volume, reads its id, xtime and listing', { timeout: 60_000 }, async () => {
  const info = await volumeInfo('localhost', vol.name);
  assert.equal(info.uuid, vol.uuid, 'volumeInfo uuid = gluster volume info');
  assert.equal(info.status, 'Started');
  assert.equal(info.type, 'Distribute');
  assert.deepEqual(info.bricks, vol.bricks);

  const src = await started({ mountBaseDir: undefined }); // default base: the OS temp dir
  try {
    assert.equal(src.kind, 'gluster');
    assert.equal(src.volumeId, vol.uuid);
    assert.match(src.root, /\/gsyncd-aux-mount-[^/]+$/);
    assert.ok(mountsBelow(src.root).includes(src.root), 'the aux mount is in /proc/mounts');
    assert.equal(src.volumeMark?.uuid, vol.uuid, 'volume-mark read at start');
    assert.equal(src.volumeMark?.retval, 0);

    await mkdir(join(fuse, 'a1', 'sub'), { recursive: true });
    await writeFile(join(fuse, 'a1', 'sub', 'f1'), 'one\n');
    await writeFile(join(fuse, 'top.txt'), 'top\n');
    const x1 = await rootNewerThan(src, null);
    await sleep(5);
    await writeFile(join(fuse, 'a1', 'sub', 'f2'), 'two\n');
    const x2 = await rootNewerThan(src, x1);
    assert.ok(compareXtime(x2, x1) > 0, `root xtime increased: ${formatXtime(x1)} -> ${formatXtime(x2)}`);

    const root = await src.list('');
    assert.ok(root);
    const names = root.map((e) => e.name);
    assert.ok(!names.includes('.gfid'), 'the virtual .gfid dir is never listed');
    assert.ok(names.includes('a1') && names.includes('top.txt'), `listing has the written entries: ${names.join(',')}`);
    const a1 = root.find((e) => e.name === 'a1')!;
    assert.equal(a1.type, 'dir');
    assert.ok(a1.xtime, 'subdirectory carries its xtime');
    assert.ok(compareXtime(a1.xtime, x2) <= 0, 'a subdir xtime never exceeds the root xtime');
    const top = root.find((e) => e.name === 'top.txt')!;
    assert.equal(top.type, 'file');
    assert.equal(top.size, 4);
    assert.equal(top.xtime, undefined, 'files carry no xtime');

    // Identity: `ino:<n>`, the FUSE inode (low 64 bits of the gfid), unsigned and as stat sees it.
    const sub = await src.list('a1/sub');
    const f1 = sub!.find((e) => e.name === 'f1')!;
    const inoSeen = BigInt.asUintN(64, (await stat(join(fuse, 'a1', 'sub', 'f1'), { bigint: true })).ino);
    assert.equal(f1.id, `ino:${inoSeen}`);
    const gfid = await readXattr(join(src.root, 'a1', 'sub', 'f1'), 'glusterfs.gfid.string');
    assert.ok(gfid);
    const gfidLow = BigInt('0x' + gfid.toString('utf8').replace(/[\0-]/g, '').slice(16));
    assert.equal(f1.id, `ino:${gfidLow}`, 'inode number = low 64 bits of the gfid');
    await rename(join(fuse, 'a1', 'sub', 'f1'), join(fuse, 'a1', 'f1-renamed'));
    assert.equal((await src.lookup('a1/f1-renamed'))?.id, f1.id, 'id survives a rename');
    assert.equal(await src.lookup('a1/sub/f1'), null);
    // No stale metadata or content through the aux mount (default client caches serve both for 1 s).
    for (let i = 0; i < 5; i++) {
      await writeFile(join(fuse, 'top.txt'), `v1-${i}\n`);
      assert.equal(readFileSync(join(src.root, 'top.txt'), 'utf8'), `v1-${i}\n`);
      await writeFile(join(fuse, 'top.txt'), `v2-${i}!\n`);
      assert.equal(readFileSync(join(src.root, 'top.txt'), 'utf8'), `v2-${i}!\n`, 'fresh content right after another client wrote it');
      assert.equal((await src.lookup('top.txt'))?.size, `v2-${i}!\n`.length);
    }
    const rootEntry = await src.lookup('');
    assert.equal(rootEntry?.type, 'dir');
    assert.equal(await src.list('no/such/dir'), null);

    const dir = src.root;
    await src.stop();
    assert.ok(!mountsBelow(dir).length && !existsSync(dir), 'stop() unmounts and removes the dir');
    await src.stop(); // idempotent

    const again = await started();
    try {
      assert.equal((await again.lookup('a1/f1-renamed'))?.id, f1.id, 'id survives a remount');
    } finally {
      await again.stop();
    }
  } finally {
    await src.stop();
  }
});

test('parsing: volume info XML, volume-mark, mount arguments, slave mark key', () => {
  const xml = `<cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/><volInfo><volumes><volume>
    <name>pop</name><id>60F71936-aaaa-bbbb-cccc-0123456789ab</id><status>1</status><statusStr>Started</statusStr>
    <typeStr>Distribute</typeStr><bricks><brick uuid="x">vm:/b/1<name>vm:/b/1</name></brick><brick uuid="y">vm:/b/a&amp;b<name>vm:/b/a&amp;b</name></brick></bricks>
    <options><option><name>geo-replication.indexing</name><value>on</value></option></options></volume><count>1</count></volumes></volInfo></cliOutput>`;
  assert.deepEqual(parseVolumeInfoXml(xml, 'pop'), {
    name: 'pop', uuid: '60f71936-aaaa-bbbb-cccc-0123456789ab', bricks: ['vm:/b/1', 'vm:/b/a&b'], type: 'Distribute', status: 'Started',
  });
  const missing = '<cliOutput><opRet>-1</opRet><opErrno>30806</opErrno><opErrstr>Volume does not exist</opErrstr><volInfo><volumes><count>0</count></volumes></volInfo></cliOutput>';
  assert.throws(() => parseVolumeInfoXml(missing, 'nope'), (e) => isGsyncdError(e, 'GSYNCD_ERR_MOUNT') && /does not exist/.test(e.message));

  const mark = decodeVolumeMark(Buffer.from('01004caa1c2872b54b58bbbc25f16e078467006b075602000593ca', 'hex'));
  assert.deepEqual(mark, { version: [1, 0], uuid: '4caa1c28-72b5-4b58-bbbc-25f16e078467', retval: 0, time: { sec: 0x6b075602, usec: 0x593ca } });
  assert.equal(decodeVolumeMark(Buffer.alloc(10)), null);

  const args = new AuxMount({ host: 'h', volume: 'v', timeoutSec: 1, logLevel: 'info', params: 'acl attribute-timeout=1 xlator-option=*-dht.assert-no-child-down=false' }).commandArgs();
  assert.deepEqual(args, [
    '--volfile-server=h', '--volfile-id=v', '--client-pid=-1', '--aux-gfid-mount', '--log-level=INFO',
    '--entry-timeout=0', '--negative-timeout=0', '--xlator-option=*-md-cache.md-cache-timeout=0',
    '--acl', '--attribute-timeout=1', '--xlator-option=*-dht.assert-no-child-down=false',
  ]);
  assert.equal(glusterSlaveMarkKey('trusted.gsyncd.abc.xtime'), 'trusted.glusterfs.abc.xtime');
  assert.equal(glusterSlaveMarkKey('trusted.other'), 'trusted.other');
});

test('read mount: cached for rsync, forced cache bounds, fresh once settled, unmounted by stop()', { timeout: 120_000 }, async (t) => {
  const forced = new AuxMount({ host: 'h', volume: 'v', timeoutSec: 1, cacheSec: 1,
    params: 'entry-timeout=600 xlator-option=*-md-cache.md-cache-timeout=600 xlator-option=v-quick-read.cache-timeout=60 log-level=WARNING' }).commandArgs();
  assert.ok(forced.includes('--entry-timeout=1') && forced.includes('--attribute-timeout=1') && forced.includes('--fopen-keep-cache=off'), forced.join(' '));
  assert.ok(!forced.some((a) => /=600$|=60$/.test(a)), `no parameter lengthens the caches: ${forced.join(' ')}`);
  assert.ok(forced.includes('--log-level=WARNING'), 'other parameters pass');

  const off = await started({ readCacheSec: 0 });
  assert.equal(await off.readMount(), null, 'read-cache 0: no read mount');
  await off.stop();
  const src = await started({ readCacheSec: 1 });
  try {
    const reader = await src.readMount();
    assert.ok(reader && reader.root !== src.root, 'a second mount');
    assert.deepEqual(auxMountsLeft().sort(), [src.root, reader.root].sort());
    assert.ok(readFileSync('/proc/self/mounts', 'utf8').includes(reader.root));
    await mkdir(join(fuse, 'rm'), { recursive: true });
    let staleAtOnce = 0;
    for (let i = 0; i < 4; i++) {
      // Same size and, for the in-place write, the same name and inode: only fresh caches tell.
      const [a, b] = [Buffer.alloc(4096, `a${i}`), Buffer.alloc(4096, `b${i}`)];
      await writeFile(join(fuse, 'rm', 'inplace'), a);
      await writeFile(join(fuse, 'rm', 'replaced'), a);
      await sleep(reader.settleMs);
      assert.deepEqual(readFileSync(join(reader.root, 'rm', 'inplace')), a); // and cached now
      assert.deepEqual(readFileSync(join(reader.root, 'rm', 'replaced')), a);
      await writeFile(join(fuse, 'rm', 'inplace'), b, { flag: 'r+' });
      await writeFile(join(fuse, 'rm', 'new'), b);
      await rename(join(fuse, 'rm', 'new'), join(fuse, 'rm', 'replaced'));
      const observed = Date.now(); // a pass would have listed here
      try {
        if (!readFileSync(join(reader.root, 'rm', 'replaced')).equals(b)) staleAtOnce++;
      } catch {
        staleAtOnce++; // the cached name still leads to the replaced (unlinked) inode
      }
      await sleep(Math.max(0, observed + reader.settleMs - Date.now()));
      assert.deepEqual(readFileSync(join(reader.root, 'rm', 'inplace')), b, `in-place rewrite seen ${reader.settleMs} ms later (round ${i})`);
      assert.deepEqual(readFileSync(join(reader.root, 'rm', 'replaced')), b, `rename over seen ${reader.settleMs} ms later (round ${i})`);
    }
    t.diagnostic(`stale right after the change: ${staleAtOnce} of 4 (the cache is real)`);
  } finally {
    await src.stop();
  }
  assert.deepEqual(auxMountsLeft(), [], 'stop() unmounts both');
});

test('errors: unknown volume, unreachable glusterd', { timeout: 30_000 }, async () => {
  await assert.rejects(volumeInfo('localhost', 'gs_no_such_volume'), (e) => isGsyncdError(e, 'GSYNCD_ERR_MOUNT') && /does not exist/.test(e.message));
  await assert.rejects(volumeInfo('127.0.0.1:1', vol.name, { timeoutSec: 10 }), (e) => isGsyncdError(e, 'GSYNCD_ERR_MOUNT') && /not reachable|did not answer/.test(e.message));
  const before = liveMounts().length;
  const src = new GlusterSource(options({ volume: 'gs_no_such_volume' }));
  await assert.rejects(src.start(), (e) => isGsyncdError(e, 'GSYNCD_ERR_MOUNT'));
  assert.equal(liveMounts().length, before);
  assert.deepEqual(auxMountsLeft(), []);
});

test('stop() and SIGTERM leave no aux mount behind', { timeout: 60_000 }, async () => {
  const src = await started();
  const dir = src.root;
  assert.deepEqual(auxMountsLeft(), [dir]);
  await src.stop();
  assert.deepEqual(auxMountsLeft(), []);
  assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(dir));

  // A worker process killed by SIGTERM: with no handler of its own (the cleanup unmounts and
  // re-raises the signal), and with its own handler that exits (the exit hook unmounts).
  const fixtureDir = await tmpDir('gsrc-fixture');
  for (const ownHandler of [false, true]) {
    const fixture = join(fixtureDir, `sigterm-${ownHandler}.mts`);
    await writeFile(fixture, [
      `import { GlusterSource } from ${JSON.stringify(pathToFileURL(join(repo, 'src/master/gluster-source.ts')).href)};`,
      `const log = { debug() {}, info() {}, warn() {}, error() {} };`,
      `const src = new GlusterSource({ ...${JSON.stringify({ host: 'localhost', volume: vol.name, connectionTimeoutSec: 30, mountBaseDir: mountBase, readCacheSec: 0 })}, log });`,
      ownHandler ? `process.on('SIGTERM', () => { setTimeout(() => process.exit(0), 50); });` : '',
      `await src.start();`,
      `console.log(JSON.stringify({ root: src.root }));`,
      `setInterval(() => {}, 1000);`,
    ].join('\n'));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
    try {
      const root = await waitFor(() => /"root":"([^"]+)"/.exec(out)?.[1], { what: `fixture to mount (stderr: ${err})`, timeoutMs: 30_000, intervalMs: 50 });
      assert.deepEqual(auxMountsLeft(), [root], 'the fixture mounted');
      child.kill('SIGTERM');
      const how = await Promise.race([exited, sleep(20_000).then(() => null)]);
      assert.ok(how, 'fixture exited after SIGTERM');
      if (ownHandler) assert.equal(how.code, 0, err);
      else assert.equal(how.signal, 'SIGTERM', `died of the re-raised signal (code ${how.code}, stderr ${err})`);
      assert.deepEqual(auxMountsLeft(), [], `no aux mount left after SIGTERM (ownHandler=${ownHandler})`);
      assert.ok(!existsSync(root), 'mount dir removed');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }
});

test('idle cost: one getxattr per rootXtime(), nothing listed', { timeout: 30_000 }, async () => {
  const src = await started();
  try {
    await src.rootXtime();
    const before = { ...src.stats };
    const n = 50;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await src.rootXtime();
    const perCall = (performance.now() - t0) / n;
    assert.equal(src.stats.getxattr - before.getxattr, n, 'exactly one getxattr per poll');
    assert.equal(src.stats.listedDirs, before.listedDirs, 'nothing listed');
    assert.equal(await src.safetyCheck(), null, 'healthy');
    assert.equal(src.stats.getxattr - before.getxattr, n, 'safetyCheck does not re-read the volume-mark within 30 s');
    console.log(`# idle poll: ${perCall.toFixed(3)} ms per rootXtime()`);
  } finally {
    await src.stop();
  }
});

test('safetyCheck: mount_missing when the mount is gone or disconnected', { timeout: 60_000 }, async () => {
  const src = await started();
  try {
    assert.equal(await src.safetyCheck(), null);
    const r = await run('umount', ['-l', src.root]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await src.safetyCheck(), 'mount_missing');
  } finally {
    await src.stop();
  }
  assert.deepEqual(auxMountsLeft(), []);

  // The glusterfs client dies (what a server restart looks like for a while: ENOTCONN).
  const src2 = await started();
  const dir = src2.root;
  try {
    const pid = Number(readFileSync(`${dir}.pid`, 'utf8').trim());
    assert.ok(readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir), 'pid file names our client');
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !existsSync(`/proc/${pid}/cmdline`) || /^Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? ''), { what: 'client gone', timeoutMs: 5_000 });
    assert.equal(await src2.safetyCheck(), 'mount_missing');
    assert.ok(mountsBelow(dir).includes(dir), 'a disconnected mount is reported, not unmounted');
    await assert.rejects(src2.rootXtime(), /ENOTCONN|not connected/i);
  } finally {
    await src2.stop();
  }
  assert.deepEqual(auxMountsLeft(), [], 'stop() cleans up a dead mount too');
});

test('marker propagation delay: file write -> root xtime', { timeout: 60_000 }, async () => {
  const src = await started();
  try {
    const deep = join(fuse, 'prop', 'l1', 'l2', 'l3', 'l4');
    await mkdir(deep, { recursive: true });
    await rootNewerThan(src, null);
    const delays: number[] = [];
    for (let i = 0; i < 15; i++) {
      const before = await src.rootXtime();
      const target = join(i % 2 ? deep : join(fuse, 'prop'), `f${i}`);
      await writeFile(target, `payload ${i}\n`);
      const written = performance.now();
      await rootNewerThan(src, before, 15_000);
      delays.push(performance.now() - written);
      await sleep(10);
    }
    delays.sort((a, b) => a - b);
    const pct = (p: number) => delays[Math.min(delays.length - 1, Math.floor(p * delays.length))]!.toFixed(1);
    console.log(`# root xtime visible after a write (ms, 2-brick volume, depth 1 and 5): min ${pct(0)} median ${pct(0.5)} max ${pct(1)}`);
    assert.ok(delays[delays.length - 1]! < 15_000);
  } finally {
    await src.stop();
  }
});

test('gluster slave: marks survive the gsyncd-pid mount, identity is the volume id, close unmounts', { timeout: 60_000 }, async () => {
  const slave = await openGlusterSlave({ host: 'localhost', volume: vol.name, connectionTimeoutSec: 30, mountBaseDir: mountBase });
  const dir = slave.root;
  try {
    await mkdir(join(dir, 'from-slave'), { recursive: true });
    const markKey = slaveMarkKey('11111111-2222-3333-4444-555555555555');
    const res = await slave.apply([{ op: 'mark', path: 'from-slave', xtime: { sec: 1234, usec: 5678 } }], markKey);
    assert.deepEqual(res, [{ ok: true }]);
    assert.deepEqual(await slave.readMark('from-slave', markKey), { sec: 1234, usec: 5678 }, 'mark reads back');
    const listed = await slave.list('', markKey);
    assert.deepEqual(listed?.find((e) => e.name === 'from-slave')?.mark, { sec: 1234, usec: 5678 });
    const id = await slave.identity();
    assert.equal(id.rootDev, `gluster:${vol.uuid}`);
  } finally {
    await slave.close();
  }
  assert.ok(!mountsBelow(dir).length && !existsSync(dir), 'close() unmounts');
});

test('a brick going down: unhealthy mount instead of a partial listing; remount() recovers', { timeout: 60_000 }, async () => {
  const src = await started();
  try {
    for (let i = 0; i < 12; i++) await writeFile(join(fuse, `spread-${i}`), `${i}\n`);
    const all = (await src.list(''))!.map((e) => e.name).filter((n) => n.startsWith('spread-'));
    assert.equal(all.length, 12);
    const status = await run('gluster', ['--mode=script', 'volume', 'status', vol.name, '--xml']);
    const node = status.stdout.split('<node>').find((n) => n.includes(`<path>${vol.brickDirs[1]!}</path>`));
    const pid = Number(/<pid>(\d+)<\/pid>/.exec(node ?? '')?.[1]);
    assert.ok(pid > 1, `brick pid of ${vol.brickDirs[1]} from: ${status.stdout}`);
    process.kill(pid, 'SIGTERM'); // our test volume's brick
    try {
      await waitFor(async () => (await src.safetyCheck()) === 'mount_missing', { what: 'safetyCheck to see the brick down', timeoutMs: 15_000, intervalMs: 100 });
      await assert.rejects(src.list(''), 'no partial listing from a mount that lost a brick');
    } finally {
      const r = await run('gluster', ['--mode=script', 'volume', 'start', vol.name, 'force']);
      assert.equal(r.code, 0, r.stderr);
    }
    await waitFor(async () => {
      await src.remount();
      return (await src.list(''))!.filter((e) => e.name.startsWith('spread-')).length === 12;
    }, { what: 'remount with both bricks back', timeoutMs: 20_000, intervalMs: 500 });
    assert.equal(await src.safetyCheck(), null);
    // The ordinary client reconnects by itself (it polls the restarted brick's new port).
    await waitFor(async () => (await readdir(fuse)).filter((n) => n.startsWith('spread-')).length === 12,
      { what: 'the FUSE mount to see both bricks again', timeoutMs: 20_000, intervalMs: 200 });
  } finally {
    await src.stop();
  }
  assert.deepEqual(auxMountsLeft(), []);
});
