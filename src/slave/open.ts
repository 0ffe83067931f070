// The slave a URL names, opened: a directory or a GlusterFS volume on this host served
// in-process, or a remote slave reached over ssh. The master sees only the SlaveEndpoint.
import fs from 'node:fs';
import os from 'node:os';
import { mountConfigOf } from '../gluster/mount-options.js';
import type { Logger } from '../log/logger.js';
import { defaultRemoteGsyncd } from '../options/package-info.js';
import type { ResolvedOptions } from '../options/tunables.js';
import type { SlaveHooks } from '../protocol/connect.js';
import type { SlaveEndpoint } from '../protocol/endpoint.js';
import { normalizeUrl, type ResourceUrl } from '../url/url.js';

/** Open the slave `url` names; what it reports about its connection goes to `hooks`. */
export async function openSlave(opts: ResolvedOptions, url: ResourceUrl, log: Logger, hooks: SlaveHooks): Promise<SlaveEndpoint> {
  switch (url.kind) {
    case 'file': {
      await fs.promises.mkdir(url.path, { recursive: true });
      const { LocalSlave } = await import('./endpoint.js');
      return new LocalSlave(url.path, normalizeUrl(url));
    }
    case 'gluster': {
      const { openGlusterSlave } = await import('./gluster-slave.js');
      return openGlusterSlave({ host: url.host, volume: url.volume, ...mountConfigOf(opts) });
    }
    case 'ssh': {
      const { SshSlave } = await import('../transport/ssh-slave.js');
      const explicitSsh = opts.sourceOf('ssh-command').from !== 'default';
      return SshSlave.open({
        url, port: url.port ?? opts.get('ssh-port'), user: url.user ?? os.userInfo().username,
        identityFile: opts.get('ssh-identity'), knownHostsFile: opts.get('ssh-known-hosts'),
        acceptNewHostKey: opts.get('ssh-accept-new-host-key'), remoteGsyncd: opts.get('remote-gsyncd') || defaultRemoteGsyncd(),
        sshCommand: explicitSsh ? opts.get('ssh-command') : null,
        timeoutSec: opts.get('timeout'), connectionTimeoutSec: opts.get('connection-timeout'),
        session: hooks.session, log, onConnected: hooks.onConnected, onConnectAttempt: hooks.onConnectAttempt,
      });
    }
  }
}

