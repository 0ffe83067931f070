// host::vol: a GlusterFS slave volume on another network host (its own glusterd, reached over
// SSH into that host's namespace, where the forced command runs gsyncd --slave, which mounts the
// volume itself). The master is a directory in the root namespace.
import { test } from 'node:test';
import { createVolume } from '../support/gluster.js';
import { GSYNCD_BIN } from '../support/gsyncd.js';
import { netnsHost, testSubnet } from '../support/netns.js';
import { requireRoot, testCleanup, tmpDir } from '../support/proc.js';
import { GLUSTER_SLAVE_UNSTORABLE_XATTRS, runSyncScenario } from './sync-scenarios.js';

const BLOCK = 213;

test('directory → host::vol (remote GlusterFS slave volume over SSH, forced command)', { timeout: 600_000 }, async (t) => {
  requireRoot();
  const stack = testCleanup(t);
  const host = await netnsHost(`gsnS${BLOCK}`, testSubnet(BLOCK, 0).cidr, undefined, { cleanup: stack });
  const vol = await createVolume({ cluster: host.cluster, cleanup: stack, indexing: false });
  const sshd = await host.startSshd({ cleanup: stack });
  await sshd.setAuthorizedKey(`command="${process.execPath} ${GSYNCD_BIN} --dispatch --root /nonexistent --allow-volume ${vol.name}",restrict ${sshd.clientKeyPub}`);
  const slaveView = await vol.fuseMount();
  const masterDir = await tmpDir('master', stack);
  await runSyncScenario({
    master: { url: masterDir, dir: masterDir },
    slave: { url: `root@${host.ip}::${vol.name}`, dir: slaveView },
    ignoreXattrs: GLUSTER_SLAVE_UNSTORABLE_XATTRS,
    stateDir: await tmpDir('state', stack),
    extraArgs: ['--ssh-identity', sshd.clientKeyPath, '--ssh-known-hosts', sshd.knownHostsFile, '--ssh-port', String(sshd.port)],
    log: (m) => t.diagnostic(m),
  });
});
