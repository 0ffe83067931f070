// `gsyncd --dispatch`: the forced command sshd runs for every rsync and slave session of a
// remote slave. It starts once per transfer, so bin/gsyncd.js comes here directly without loading
// the rest of the CLI (the master, the HTTP server, ssh2): half of its start-up time.
import { describeError, exitCodeOf } from '../core/errors.js';
import { createLogger } from '../log/logger.js';
import { parseDispatchArgs, runDispatch } from '../slave/dispatch.js';

/** Resolves to the exit status; a bad argument vector is one `gsyncd: ...` line, as in main(). */
export async function dispatchMain(argv: string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  try {
    const log = createLogger({ file: env['GSYNCD_DISPATCH_LOG'] || '-', base: { role: 'dispatch' } });
    return await runDispatch(env, parseDispatchArgs(argv), { log });
  } catch (err) {
    process.stderr.write(`gsyncd: ${describeError(err)}\n`);
    return exitCodeOf(err);
  }
}
