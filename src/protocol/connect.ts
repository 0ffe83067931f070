// Reaching a slave: how an attempt ended, what the opener reports while connected, and the
// opener's shape, so that the master opens whatever slave a URL names without knowing how.
import type { Logger } from '../log/logger.js';
import type { ResourceUrl } from '../url/url.js';
import type { SlaveEndpoint } from './endpoint.js';

/** The remote gsyncd did not start, or speaks another protocol version. */
export type SlaveStartReason = 'slave_command_failed' | 'version_mismatch';

/** How one ssh connection attempt ended (a metric label: keep the set small and fixed). */
export type SshConnectResult = 'ok' | 'refused' | 'timeout' | 'auth_failed' | 'host_key_rejected' | SlaveStartReason | 'error';

export interface SlaveHooks {
  readonly session: string;
  readonly onConnected?: (up: boolean) => void;
  readonly onConnectAttempt?: (result: SshConnectResult) => void;
}

/** Opens the slave a URL names (the session's options already bound). */
export type SlaveOpener = (url: ResourceUrl, log: Logger, hooks: SlaveHooks) => Promise<SlaveEndpoint>;
