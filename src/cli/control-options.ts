// Control options say what gsyncd should do (serve as slave, print a config value, …). They are
// command-line only: not tunables, so never config keys or GSYNCD_* variables.
import type { PlannedArea } from '../options/tunables.js';

export interface ControlSpec {
  readonly name: string;
  readonly short?: string;
  /** Number of values the option takes (config-set takes NAME VALUE, as in the original). */
  readonly arity: 0 | 1 | 2;
  readonly metavar?: string;
  readonly help: string;
  /** Hidden CLI-only spellings. */
  readonly aliases?: readonly string[];
  /** Not shown in --help (build tooling). */
  readonly hidden?: boolean;
  /** Set when the option is accepted by the parser but refused because its feature is missing. */
  readonly planned?: PlannedArea;
}

export const controlOptions = [
  { name: 'config-file', short: 'c', arity: 1, metavar: 'FILE', help: 'config file (default: conf/gsyncd.conf of the installation)' },
  { name: 'no-daemon', short: 'N', arity: 0, help: 'stay in the foreground (gsyncd never detaches; accepted for the original\'s command line)' },
  { name: 'debug', arity: 0, help: 'foreground, log to stderr, log level at least debug' },
  { name: 'slave', aliases: ['secondary', 'listen'], arity: 0, help: 'slave mode: serve one master session on stdin/stdout; the only URL is the slave root' },
  { name: 'monitor', arity: 0, help: 'supervise the worker, restarting it with backoff, and serve the HTTP endpoints: what every run without --once or --turns does (kept for the original\'s command line)' },
  { name: 'config-get', arity: 1, metavar: 'NAME', help: 'print the effective value of NAME' },
  { name: 'config-get-all', arity: 0, help: 'print every tunable as key: value' },
  { name: 'config-set', arity: 2, metavar: 'NAME VALUE', help: 'set NAME in the config file (the [peers MASTER SLAVE] section when URLs are given)' },
  { name: 'config-del', arity: 1, metavar: 'NAME', help: 'remove NAME from the config file (same section rule)' },
  { name: 'config-check', arity: 1, metavar: 'NAME', help: 'exit 0 if NAME is a known tunable, else 1' },
  { name: 'normalize-url', arity: 0, help: 'print each URL in normal form' },
  { name: 'canonicalize-url', arity: 0, help: 'print each URL in canonical form (host names resolved)' },
  { name: 'canonicalize-escape-url', arity: 0, help: 'print each URL canonical and escaped' },
  { name: 'gen-docs', arity: 1, metavar: 'FILE', hidden: true, help: 'write the options reference (Markdown) to FILE' },
  { name: 'gen-conf', arity: 1, metavar: 'FILE', hidden: true, help: 'write the commented default config file to FILE' },
  { name: 'version', arity: 0, help: 'print the version' },
  { name: 'help', short: 'h', arity: 0, help: 'print this help' },
] as const satisfies readonly ControlSpec[];

export type ControlName = (typeof controlOptions)[number]['name'];

export const configOpNames = ['config-get', 'config-get-all', 'config-set', 'config-del', 'config-check'] as const;
export const urlPrintNames = ['normalize-url', 'canonicalize-url', 'canonicalize-escape-url'] as const;
