// Checks the integration-test harness itself (test/support/*) against the real parts: glusterd,
// FUSE and aux mounts with marker xtime, a throwaway sshd, network-namespace hosts and a
// two-node gluster pool. Needs root; fails (never skips) otherwise.
// Test subnet blocks used here (see docs/testing.md): 200 (twoHosts), 201 (gluster pool).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { compareXtime, createVolume, readXattr, type Xtime, xtimeIsZero } from '../support/gluster.js';
import { glusterPool, netnsHost, testSubnet, twoHosts } from '../support/netns.js';
import { isMountPoint, requireRoot, requireTools, run, testCleanup, waitFor } from '../support/proc.js';
import { sshKeygen, startSshd } from '../support/sshd.js';

const fmt = (x: Xtime) => `${x.sec}.${String(x.usec).padStart(6, '0')}`;

test('gluster volume: FUSE mount, write, xtime via the aux mount, destroy', { timeout: 120_000 }, async (t) => {
  requireRoot();
  requireTools(['gluster', 'glusterd', 'glusterfs', 'getfattr', 'mount', 'umount', 'flock']);
  const c = testCleanup(t);
  const vol = await createVolume({ cleanup: c });
  assert.match(vol.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const volumeId = await readXattr(vol.brickDirs[0]!, 'trusted.glusterfs.volume-id');
  assert.equal(volumeId?.toString('hex'), vol.uuid.replaceAll('-', ''), 'brick volume-id = Volume ID');

  const mnt = await vol.fuseMount();
  await mkdir(join(mnt, 'dir'));
  await writeFile(join(mnt, 'dir', 'file'), 'hello\n');
  assert.equal(await vol.readXtimeOrNull(join(mnt, 'dir', 'file')), null, 'no xtime on an ordinary mount');

  const aux = await vol.auxMount();
  assert.equal(readFileSync(join(aux, 'dir', 'file'), 'utf8'), 'hello\n');
  const fileX = await vol.readXtime(join(aux, 'dir', 'file'));
  assert.ok(!xtimeIsZero(fileX), 'file xtime is non-zero');
  const rootX = await waitFor(
    async () => {
      const x = await vol.readXtime(aux);
      return compareXtime(x, fileX) >= 0 ? x : null;
    },
    { what: `root xtime >= file xtime ${fmt(fileX)}`, timeoutMs: 10_000 },
  );
  assert.ok(compareXtime(rootX, fileX) >= 0);
  const nowSec = Date.now() / 1000;
  assert.ok(Math.abs(fileX.sec - nowSec) < 300, `xtime ${fmt(fileX)} is close to now (${nowSec})`);

  await vol.destroy();
  assert.ok(!isMountPoint(mnt) && !isMountPoint(aux), 'mounts gone');
  assert.ok(!existsSync(vol.brickDirs[0]!), 'brick dir removed');
  const info = await vol.cluster.gluster(['volume', 'info', vol.name]);
  assert.notEqual(info.code, 0, 'volume deleted');
});

test('sshd on loopback: key login works, wrong known_hosts is refused', { timeout: 60_000 }, async (t) => {
  requireRoot();
  requireTools(['/usr/sbin/sshd', 'ssh', 'ssh-keygen']);
  const c = testCleanup(t);
  const sshd = await startSshd({ cleanup: c });
  assert.equal(sshd.host, '127.0.0.1');

  const ok = await sshd.ssh(['echo', 'ok']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'ok\n');

  // a known_hosts that names this server with another key
  const otherKey = join(sshd.dir, 'other_host_key');
  const otherPub = (await sshKeygen(otherKey)).split(' ').slice(0, 2).join(' ');
  const wrongKnownHosts = join(sshd.dir, 'wrong_known_hosts');
  await writeFile(wrongKnownHosts, `[${sshd.host}]:${sshd.port} ${otherPub}\n`);
  const wrong = await run('ssh', [...sshd.sshArgs({ knownHostsFile: wrongKnownHosts }), '--', 'echo', 'ok']);
  assert.equal(wrong.code, 255);
  assert.equal(wrong.stdout, '');
  assert.match(wrong.stderr, /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
  // an empty known_hosts: unknown host, StrictHostKeyChecking=yes refuses
  const empty = join(sshd.dir, 'empty_known_hosts');
  await writeFile(empty, '');
  const unknown = await run('ssh', [...sshd.sshArgs({ knownHostsFile: empty }), '--', 'echo', 'ok']);
  assert.equal(unknown.code, 255);
  assert.match(unknown.stderr, /Host key verification failed/);

  // forced command through authorized_keys
  await sshd.setAuthorizedKey(`command="echo forced",restrict ${sshd.clientKeyPub}`);
  const forced = await sshd.ssh(['echo', 'ok']);
  assert.equal(forced.stdout, 'forced\n', forced.stderr);

  await sshd.stop();
  const after = await sshd.ssh(['true'], { timeoutMs: 20_000 });
  assert.equal(after.code, 255, 'sshd is gone after stop()');
});

test('two network namespaces: A reaches B (ping, ssh), the root namespace is neither', { timeout: 60_000 }, async (t) => {
  requireRoot();
  requireTools(['ip', 'ping', '/usr/sbin/sshd', 'ssh']);
  const c = testCleanup(t);
  const { a, b, sshd } = await twoHosts(200, { cleanup: c });
  assert.equal(a.ip, testSubnet(200, 0).ip);
  assert.equal(b.ip, testSubnet(200, 1).ip);

  await a.mustExec('ping', ['-c', '1', '-W', '2', b.ip]);
  // ssh from A to B's sshd: B sees the connection coming from A's address, and runs in B
  const r = await sshd.ssh(['echo "$SSH_CONNECTION"; ip -4 -o addr show'], { prefix: a.execPrefix });
  assert.equal(r.code, 0, r.stderr);
  const [conn, ...addrs] = r.stdout.trim().split('\n');
  assert.deepEqual(conn?.split(' ').slice(0, 1), [a.ip], `connection comes from A: ${conn}`);
  assert.equal(conn?.split(' ')[2], b.ip);
  assert.ok(addrs.some((l) => l.includes(`inet ${b.ip}/`)), 'the login runs in B');
  assert.ok(!addrs.some((l) => l.includes(`inet ${a.ip}/`)));

  // the root namespace holds neither address and the sshd is not in it
  const rootAddrs = (await run('ip', ['-4', '-o', 'addr', 'show'])).stdout;
  for (const ip of [a.ip, b.ip]) assert.ok(!rootAddrs.includes(`inet ${ip}/`), `${ip} is not a root-namespace address`);
  const ident = await run('ip', ['netns', 'identify', String(sshd.pid)]);
  assert.equal(ident.stdout.trim(), b.name, 'sshd runs in namespace B');
  const aAddrs = (await a.mustExec('ip', ['-4', '-o', 'addr', 'show'])).stdout;
  assert.ok(!aAddrs.includes(`inet ${b.ip}/`), "B's address is not local in A");
});

test('gluster pool of two netns hosts: distributed volume, aggregated root xtime', { timeout: 150_000 }, async (t) => {
  requireRoot();
  requireTools(['ip', 'nsenter', 'unshare', 'glusterd', 'gluster', 'glusterfs', 'getfattr']);
  const c = testCleanup(t);
  const hA = await netnsHost('gsnA201', testSubnet(201, 0).cidr, undefined, { cleanup: c });
  const hB = await netnsHost('gsnB201', testSubnet(201, 1).cidr, hA.ip, { cleanup: c });
  const peers = (await hB.gluster(['peer', 'status'])).stdout;
  assert.match(peers, new RegExp(`Hostname: ${hA.ip.replaceAll('.', '\\.')}\\nUuid: \\S+\\nState: Peer in Cluster \\(Connected\\)`));

  const vol = await createVolume({ cluster: glusterPool([hA, hB]), bricks: 2, cleanup: c });
  assert.deepEqual(
    vol.bricks.map((b) => b.split(':')[0]),
    [hA.ip, hB.ip],
  );
  const mnt = await vol.fuseMount();
  const aux = await vol.auxMount();
  const mark = await vol.readVolumeMark(aux); // DHT aggregates xtime across bricks only after this
  assert.ok(mark.length > 16 && mark.subarray(2, 18).toString('hex') === vol.uuid.replaceAll('-', ''), 'volume-mark carries the volume id');

  const brickOf = (f: string) => vol.brickDirs.findIndex((d) => existsSync(join(d, f)));
  let n = 0;
  // Twice per brick: write new files until one lands on brick `target`; that brick's root xtime is
  // then the newest, and the aux mount's root xtime must be exactly it (the max over bricks).
  for (const target of [0, 1, 0, 1]) {
    let landed = -1;
    for (let tries = 0; tries < 64 && landed !== target; tries++) {
      const f = `f${n++}`;
      await writeFile(join(mnt, f), `${f}\n`);
      landed = brickOf(f);
      assert.notEqual(landed, -1, `${f} is on a brick`);
    }
    assert.equal(landed, target, `a file landed on brick ${target}`);
    await waitFor(
      async () => {
        const [b0, b1] = await Promise.all(vol.brickDirs.map((d) => vol.readXtime(d)));
        const root = await vol.readXtime(aux);
        const max = compareXtime(b0!, b1!) >= 0 ? b0! : b1!;
        const newest = target === 0 ? b0! : b1!;
        if (compareXtime(root, max) !== 0 || compareXtime(newest, max) !== 0) {
          throw new Error(`aux root ${fmt(root)}, bricks ${fmt(b0!)} / ${fmt(b1!)}, newest should be brick ${target}`);
        }
        return true;
      },
      { what: `aux root xtime = brick ${target} root xtime (the max)`, timeoutMs: 10_000, intervalMs: 200 },
    );
  }
  // an sshd inside host B: a login there talks to B's glusterd (which knows the pool's volume)
  const sshd = await hB.startSshd({ cleanup: c });
  const list = await sshd.ssh(['gluster', 'volume', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stdout.trim(), vol.name, 'only the pool volume (not the root glusterd volumes)');

  const counts = [0, 1].map((i) => Array.from({ length: n }, (_, k) => `f${k}`).filter((f) => brickOf(f) === i).length);
  assert.ok(counts.every((x) => x > 0), `files on both bricks: ${counts.join('/')}`);
});
