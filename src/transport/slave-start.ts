// Why a slave command did not come up, worded for the user. A command the slave host cannot run
// (exit 126/127, "command not found") or a gsyncd that speaks another protocol version will not
// start working by itself: it is a configuration error, reported once with what to set, and
// the monitor stops retrying it (monitor.ts). Pure: facts about the failed start in, words out.
import { describeError, gsyncdError, type GsyncdError } from '../core/errors.js';
import type { SlaveStartReason } from '../protocol/connect.js';

export interface SlaveStartFacts {
  /** The command line run on the slave host. */
  readonly command: string;
  /** Where it ran, e.g. `root@10.0.0.2:22`. */
  readonly host: string;
  /** The command's exit status, when the transport reported one before the handshake failed. */
  readonly exitCode: number | null;
  /** What the command wrote to stderr (any length; only the last line is quoted). */
  readonly stderr: string;
  /** Why the handshake failed. */
  readonly error: unknown;
}

/** Shells' "cannot execute" (126) and "not found" (127). */
const NOT_RUNNABLE = new Set([126, 127]);
const VERSION = /protocol version mismatch[^;]*/;

/** GSYNCD_ERR_SLAVE_COMMAND when the slave command cannot start, else null (retry as usual). */
export function slaveStartProblem(f: SlaveStartFacts): { readonly reason: SlaveStartReason; readonly error: GsyncdError } | null {
  const said = lastLine(f.stderr);
  const version = VERSION.exec(describeError(f.error));
  let why: string;
  if (version) why = `speaks another gsyncd version: ${version[0]}`;
  else if (f.exitCode !== null && NOT_RUNNABLE.has(f.exitCode)) why = `exited with status ${f.exitCode}${said ? ` (${said})` : ''}`;
  // A wrapper may hide the status (a shell's own exit 1 around it): the shell's words still say it.
  else if (/command not found/i.test(said)) why = `failed: ${said}`;
  else return null;
  const error = gsyncdError('GSYNCD_ERR_SLAVE_COMMAND',
    `cannot start the slave on ${f.host}: ${JSON.stringify(f.command)} ${why}; set --remote-gsyncd to the command that runs gsyncd there`);
  return { reason: version ? 'version_mismatch' : 'slave_command_failed', error };
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const last = lines.at(-1) ?? '';
  return last.length > 200 ? `${last.slice(0, 200)}…` : last;
}
