// What a session's in-band streams (transport/streams.ts) may run: the dispatcher's own rules
// (dispatch-rsync.ts, dispatch-tar.ts) with the session's root as the only writable area. tar
// only where the dispatcher that started this slave allowed it (--allow-tar): it tells its child
// through the environment, as it tells it which rsync and tar to run. A slave started without a
// dispatcher is reached by a key that may run anything: its streams still run rsync only.
import type { StreamDecision } from '../transport/streams.js';
import type { DispatchPolicy, DispatchProbe } from './dispatch-policy.js';
import { decideRsync } from './dispatch-rsync.js';
import { decideTar } from './dispatch-tar.js';

/** Set by the dispatcher for the slave it starts. */
export const STREAM_ENV = { rsync: 'GSYNCD_STREAM_RSYNC', tar: 'GSYNCD_STREAM_TAR', allowTar: 'GSYNCD_STREAM_ALLOW_TAR' } as const;

export function streamPolicy(root: string, env: Readonly<Record<string, string | undefined>>): DispatchPolicy {
  return {
    root,
    allowVolumes: [],
    gsyncdArgv: [],
    rsyncPath: env[STREAM_ENV.rsync] || 'rsync',
    tarPath: env[STREAM_ENV.tar] || 'tar',
    allowTar: env[STREAM_ENV.allowTar] === '1',
  };
}

/** The environment a dispatcher gives the slave it starts, from its own policy. */
export function streamEnvOf(policy: DispatchPolicy): Record<string, string> {
  return {
    [STREAM_ENV.rsync]: policy.rsyncPath,
    [STREAM_ENV.tar]: policy.tarPath ?? 'tar',
    [STREAM_ENV.allowTar]: policy.allowTar ? '1' : '0',
  };
}

/**
 * The words come as rsync hands them to a remote shell: escaped for it (`\ ` for a space).
 * A shell would have removed the escapes before running the command; so does this.
 */
function unescape(word: string): string {
  return word.replace(/\\([\s\S])/g, '$1');
}

export function decideStream(argv: readonly string[], policy: DispatchPolicy, probe: DispatchProbe): StreamDecision {
  const words = argv.map(unescape);
  const decision = words[0] === 'rsync' ? decideRsync(words.slice(1), policy, probe)
    : words[0] === 'tar' ? decideTar(words.slice(1), policy, probe)
    : { kind: 'refuse' as const, reason: 'forbidden_command' as const, message: 'only rsync --server and tar --extract may run in the session' };
  if (decision.kind === 'refuse') return { refusal: decision.reason, message: decision.message };
  if (decision.kind === 'tar') {
    // Options only from the checked command line; English, escape-quoted messages for the master.
    const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C' };
    delete env['TAR_OPTIONS'];
    return { argv: decision.argv, env };
  }
  if (decision.kind !== 'rsync') return { refusal: 'forbidden_command', message: 'only rsync --server and tar --extract may run in the session' };
  return { argv: decision.argv };
}
