// `gsyncd status` command line: what the daemon accepts to find its session (state file, state
// directory, the MASTER SLAVE pair with its session name, a config file) plus where to ask.
// Pure: argv in, request out; main.ts resolves it through the same layers as a session.
import { gsyncdError } from '../core/errors.js';
import type { TunableName } from '../options/tunables.js';
import type { FlagValue } from './resolve.js';

export interface StatusArgs {
  readonly help: boolean;
  readonly json: boolean;
  /** --http-url: the daemon's base URL, asked before any state file. */
  readonly httpUrl: string | undefined;
  readonly configFile: string | undefined;
  /** Tunables that locate the session or shape the verdict, as flags (resolved like a session's). */
  readonly tunables: ReadonlyMap<TunableName, FlagValue>;
  /** None, or MASTER and SLAVE. */
  readonly positionals: readonly string[];
}

/** Options of `status` that are tunables of the daemon. */
const TUNABLE_FLAGS = ['state-dir', 'state-file', 'session-name', 'http-bind', 'in-sync-lag', 'stall-timeout'] as const satisfies readonly TunableName[];

export const statusUsage =
  'gsyncd status [--json] [--state-file FILE | --state-dir DIR | MASTER SLAVE] [-c CONFIG] [--session-name NAME] [--http-url URL | --http-bind ADDR]';

const expected = 'expected --json, --state-file FILE, --state-dir DIR, --session-name NAME, -c CONFIG, --http-url URL, --http-bind ADDR, --in-sync-lag S, --stall-timeout S, MASTER SLAVE';

export function parseStatusArgs(argv: readonly string[]): StatusArgs {
  let help = false;
  let json = false;
  let httpUrl: string | undefined;
  let configFile: string | undefined;
  const tunables = new Map<TunableName, FlagValue>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (!arg.startsWith('-') || arg === '-') { positionals.push(arg); continue; }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const name = flag.replace(/^--?/, '').replace(/_/g, '-');
    const value = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw gsyncdError('GSYNCD_ERR_USAGE', `status: ${flag} needs a value`);
      return v;
    };
    if (flag === '-h' || name === 'help' || name === 'json') {
      if (eq > 0) throw gsyncdError('GSYNCD_ERR_USAGE', `status: option '${flag}' does not take a value`);
      if (name === 'json') json = true;
      else help = true;
    } else if (flag === '-c' || (flag.startsWith('--') && name === 'config-file')) configFile = value();
    else if (flag.startsWith('--') && name === 'http-url') httpUrl = value();
    else if (flag.startsWith('--') && (TUNABLE_FLAGS as readonly string[]).includes(name)) tunables.set(name as TunableName, { value: value(), flag });
    else throw gsyncdError('GSYNCD_ERR_UNKNOWN_OPTION', `unknown status option '${flag}' (${expected})`);
  }
  if (positionals.length !== 0 && positionals.length !== 2) {
    throw gsyncdError('GSYNCD_ERR_USAGE', `status: expected MASTER and SLAVE URLs or none, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
  }
  return { help, json, httpUrl, configFile, tunables, positionals };
}
