// The one table of tunables. It drives --help, the config-file keys, the GSYNCD_* environment
// variables, conf/gsyncd.conf and docs/options.md; nothing else may restate the list.
// Control options (what to do rather than how: -c, --slave, --config-get, …) live in
// control-options.ts: they are flags only, never config keys or env variables.

export type OptionType = 'string' | 'int' | 'float' | 'bool' | 'duration-seconds' | 'enum';
export type OptionMode = 'master' | 'slave' | 'both';
/** The part of the code base that will make a not-yet-effective option work. */
export type PlannedArea = 'remote-slave' | 'observe' | 'monitor' | 'master' | 'slave' | 'sync' | 'failover';

interface SpecBase {
  /** Canonical dashed name: the long flag, the config key, and (upper-cased, `_`) the env suffix. */
  readonly name: string;
  readonly type: OptionType;
  readonly help: string;
  readonly mode: OptionMode;
  readonly short?: string;
  /** Hidden CLI-only spellings (primary/secondary for master/slave). Never valid as config keys. */
  readonly aliases?: readonly string[];
  /** Placeholder in --help, e.g. FILE. */
  readonly metavar?: string;
  readonly min?: number;
  readonly max?: number;
  readonly choices?: readonly string[];
  /** Extra validation of string values, as a pattern plus the words to say when it fails. */
  readonly pattern?: { readonly rx: RegExp; readonly expected: string };
  /** Relative values are made absolute (daemons change directory): flags and env against the cwd, config values against the file's directory. */
  readonly path?: boolean;
}
type Effective = { readonly effective: true } | { readonly effective: false; readonly planned: PlannedArea };
export type TunableSpec = SpecBase & Effective & { readonly default: string | number | boolean };

const uuidOrEmpty = { rx: /^$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, expected: 'a UUID' };
const hostPort = { rx: /^(\[[0-9a-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/i, expected: 'HOST:PORT' };
const sessionName = { rx: /^$|^[a-z0-9][a-z0-9_.-]{0,62}$/, expected: 'lower-case [a-z0-9][a-z0-9_.-]{0,62}' };

export const tunables = [
  // ── slave connection ──
  { name: 'remote-gsyncd', short: 'r', type: 'string', default: '', metavar: 'CMD', mode: 'master', effective: true,
    help: 'command that starts gsyncd on the slave host (split on whitespace, may carry arguments); empty: this node and this installation\'s bin/gsyncd.js by absolute path, which runs on a slave host with the same layout' },
  { name: 'ssh-command', short: 's', type: 'string', default: 'ssh', metavar: 'CMD', mode: 'master', effective: true,
    help: 'OpenSSH client command (split on whitespace); when set, used instead of the built-in ssh2 client (e.g. to honour ~/.ssh/config)' },
  { name: 'ssh-known-hosts', type: 'string', default: '', metavar: 'FILE', path: true, mode: 'master', effective: true,
    help: 'known_hosts file that must hold the slave host key (empty: ~/.ssh/known_hosts)' },
  { name: 'ssh-identity', type: 'string', default: '', metavar: 'FILE', path: true, mode: 'master', effective: true,
    help: 'private key for the slave login (empty: the ssh defaults)' },
  { name: 'ssh-accept-new-host-key', type: 'bool', default: false, mode: 'master', effective: true,
    help: 'accept a slave host key that known_hosts does not list yet, and record it (never a changed key)' },
  { name: 'ssh-port', type: 'int', default: 22, min: 1, max: 65535, mode: 'master', effective: true,
    help: 'TCP port of the slave sshd when the URL names none' },
  { name: 'timeout', type: 'duration-seconds', default: 120, min: 0, mode: 'both', effective: true,
    help: 'keep-alive window: a peer silent this long is dropped; 0 disables' },
  { name: 'connection-timeout', type: 'duration-seconds', default: 60, min: 0, mode: 'master', effective: true,
    help: 'how long a new worker may take to connect and confirm start-up' },
  { name: 'slave-timeout', aliases: ['secondary-timeout'], type: 'duration-seconds', default: 120, min: 0, mode: 'slave', effective: false, planned: 'slave',
    help: 'slave side: exit when the master sent no keep-alive for this long; 0 disables' },
  { name: 'allow-network', type: 'string', default: '', metavar: 'CIDRS', mode: 'slave', effective: false, planned: 'slave',
    help: 'comma-separated networks the ssh client address must lie in (empty: any)' },
  { name: 'session-owner', type: 'string', default: '', metavar: 'ID', mode: 'both', effective: false, planned: 'slave',
    help: 'identifier forwarded to the slave, usable in its templates' },
  // ── data transfer ──
  { name: 'rsync-command', type: 'string', default: 'rsync', metavar: 'CMD', mode: 'master', effective: true,
    help: 'rsync program (split on whitespace)' },
  { name: 'rsync-options', type: 'string', default: '', metavar: 'OPTS', mode: 'master', effective: true,
    help: 'extra rsync options (split on whitespace); files with holes get --sparse in runs of their own' },
  { name: 'rsync-ssh-options', type: 'string', default: '--compress', metavar: 'OPTS', mode: 'master', effective: true,
    help: 'extra rsync options used only when the slave is remote' },
  { name: 'sync-jobs', type: 'int', default: 3, min: 1, max: 100, mode: 'both', effective: true,
    help: 'parallel rsync jobs on the master; RPC workers on the slave' },
  { name: 'sync-method', type: 'enum', choices: ['rsync', 'tar', 'auto'], default: 'rsync', mode: 'master', effective: true,
    help: 'how file data goes: rsync runs; tar streams (GNU tar over the same connection: fewer round trips for many small files; a slave dispatcher must allow it with --allow-tar) for regular files and symlinks, except hard-link-preserving writes, attribute-only changes and renames, which stay on rsync with specials and directory attributes; auto: tar when a batch has at least 32 files of up to 256 KiB, for those. tar writes in place: the old file is removed and the new one written at its name, so a reader on the slave can see it partly written (rsync writes a temporary file and renames it)' },
  { name: 'tar-command', type: 'string', default: 'tar', metavar: 'CMD', mode: 'master', effective: true,
    help: 'GNU tar program on the master (split on whitespace), for --sync-method tar|auto; a remote slave runs its own `tar`' },
  { name: 'max-rsync-retries', type: 'int', default: 10, min: 0, mode: 'master', effective: true,
    help: 'attempts for a failing file before it is skipped and reported' },
  { name: 'use-rsync-xattrs', type: 'bool', default: false, mode: 'both', effective: false, planned: 'sync',
    help: 'let rsync carry extended attributes (--xattrs); needs root on the slave' },
  { name: 'sync-xattrs', type: 'bool', default: true, mode: 'master', effective: true,
    help: 'replicate user extended attributes (user.*) with the data' },
  { name: 'sync-acls', type: 'bool', default: true, mode: 'master', effective: true,
    help: 'replicate POSIX ACLs with the data' },
  { name: 'ignore-deletes', type: 'bool', default: false, mode: 'master', effective: true,
    help: 'never delete on the slave what disappeared from the master' },
  { name: 'delete-delay', type: 'duration-seconds', default: 5, min: 0, mode: 'master', effective: true,
    help: 'apply deletes only once removals on the master have been quiet this long (a tree being emptied is seen whole first); 0 = at once; --once does not wait' },
  { name: 'max-delete', type: 'int', default: 1000, min: 0, mode: 'master', effective: true,
    help: 'safety halt (mass_delete) instead of deleting more than this many slave entries (subtrees counted) within --max-delete-window; 0 = no limit' },
  { name: 'max-delete-percent', type: 'float', default: 25, min: 0, max: 100, mode: 'master', effective: true,
    help: 'safety halt (mass_delete) instead of deleting more than this percent of the slave\'s established entries within --max-delete-window; 0 = no limit' },
  { name: 'max-delete-window', type: 'duration-seconds', default: 600, min: 1, mode: 'master', effective: true,
    help: 'sliding window of the deletion limits; names the slave got within it are young and do not count toward the percent' },
  // ── crawl and session ──
  { name: 'change-interval', type: 'duration-seconds', default: 0.5, min: 0, mode: 'master', effective: true,
    help: 'pause between change-detection passes; fractions allowed; after 10 s without a change, twice as long (at most 1 s)' },
  { name: 'xtime-settle', type: 'duration-seconds', default: 2, min: 0, mode: 'master', effective: true,
    help: 'margin for the marker\'s asynchronous xtime propagation before a pass counts as synced' },
  { name: 'verify-interval', type: 'duration-seconds', default: 3600, min: 0, mode: 'master', effective: true,
    help: 'period of the verification crawl: a full comparison with the slave (GlusterFS master) or a re-crawl backing up change tracking (plain-directory master); 0 disables' },
  { name: 'turns', type: 'int', default: 0, min: 0, mode: 'master', effective: true,
    help: 'exit after this many passes (diagnostics); 0 = unlimited' },
  { name: 'once', type: 'bool', default: false, mode: 'master', effective: true,
    help: 'replicate until the slave matches the master once, then exit' },
  { name: 'resume-halted', type: 'bool', default: false, mode: 'master', effective: true,
    help: 'clear a latched safety halt at start-up (after you checked why it fired)' },
  { name: 'session-name', type: 'string', default: '', metavar: 'NAME', pattern: sessionName, mode: 'master', effective: true,
    help: 'session key for state, metrics and logs (empty: derived from the URLs)' },
  { name: 'volume-id', type: 'string', default: '', metavar: 'UUID', pattern: uuidOrEmpty, mode: 'master', effective: true,
    help: 'expected UUID of the master volume; a different volume is refused (empty: learn it)' },
  { name: 'checkpoint', type: 'string', default: '', metavar: 'TIME', mode: 'master', effective: true,
    help: 'checkpoint: now, Unix seconds or ISO-8601; completes when everything before it is synced' },
  { name: 'special-sync-mode', type: 'enum', choices: ['none', 'blind', 'wrapup'], default: 'none', mode: 'master', effective: false, planned: 'failover',
    help: 'failover/failback crawl mode' },
  // ── files and state ──
  { name: 'state-dir', type: 'string', default: '/var/lib/gsyncd', metavar: 'DIR', path: true, mode: 'master', effective: true,
    help: 'directory for session state (synced-up-to, checkpoint, halt latch, tree index)' },
  { name: 'state-file', type: 'string', default: '', metavar: 'FILE', path: true, mode: 'master', effective: true,
    help: 'the session\'s state file, read by gsyncd status (empty: STATE-DIR/SESSION/state.json)' },
  { name: 'pid-file', short: 'p', type: 'string', default: '', metavar: 'FILE', path: true, mode: 'both', effective: false, planned: 'monitor',
    help: 'pid file, locked while running (empty: none)' },
  { name: 'log-file', short: 'l', type: 'string', default: '', metavar: 'FILE', path: true, mode: 'both', effective: true,
    help: 'log destination; empty or - means stderr' },
  { name: 'log-level', short: 'L', type: 'enum', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'], default: 'info', mode: 'both', effective: true,
    help: 'least severe level logged (case-insensitive)' },
  { name: 'log-format', type: 'enum', choices: ['json', 'pretty'], default: 'json', mode: 'both', effective: false, planned: 'observe',
    help: 'NDJSON, or pretty for development' },
  { name: 'error-file', type: 'string', default: '', metavar: 'FILE', path: true, mode: 'both', effective: true,
    help: 'on a non-zero exit write GSYNCD_ERR_<CODE>: <message> here' },
  // ── GlusterFS master ──
  { name: 'gluster-command-dir', type: 'string', default: '', metavar: 'DIR', mode: 'master', effective: true,
    help: 'directory holding the glusterfs and gluster binaries (empty: PATH)' },
  { name: 'gluster-log-file', type: 'string', default: '/dev/null', metavar: 'FILE', path: true, mode: 'master', effective: true,
    help: 'log file of the auxiliary glusterfs mount' },
  { name: 'gluster-log-level', type: 'enum', choices: ['TRACE', 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL', 'NONE'], default: 'INFO', mode: 'master', effective: true,
    help: 'log level of the auxiliary glusterfs mount (case-insensitive)' },
  { name: 'gluster-params', type: 'string', default: '', metavar: 'PARAMS', mode: 'master', effective: true,
    help: 'extra whitespace-separated mount parameters, each passed as --PARAM' },
  { name: 'gluster-read-cache', type: 'int', default: 1, min: 0, max: 10, metavar: 'SEC', mode: 'master', effective: true,
    help: 'seconds the kernel caches entries and attributes on the second mount rsync reads data through; 0 = read through the uncached mount' },
  { name: 'mountbroker', type: 'string', default: '', metavar: 'LABEL', mode: 'master', effective: false, planned: 'master',
    help: 'mount through glusterd\'s mountbroker with this label instead of directly' },
  // ── observability and supervision ──
  { name: 'http-bind', type: 'string', default: '127.0.0.1:9754', metavar: 'HOST:PORT', pattern: hostPort, mode: 'both', effective: true,
    help: 'address of the metrics and health endpoints' },
  { name: 'ready-requires-slave', aliases: ['ready-requires-secondary'], type: 'bool', default: false, mode: 'master', effective: true,
    help: '/readyz fails while the slave is unreachable' },
  { name: 'in-sync-lag', type: 'duration-seconds', default: 60, min: 0, mode: 'master', effective: true,
    help: 'lag up to which status says in-sync rather than catching-up' },
  { name: 'stall-timeout', type: 'duration-seconds', default: 600, min: 0, mode: 'master', effective: true,
    help: 'no progress this long while work is pending makes status degraded' },
  { name: 'progress-interval', type: 'duration-seconds', default: 30, min: 0, mode: 'master', effective: true,
    help: 'period of crawl.progress log lines during a long crawl' },
  { name: 'shutdown-timeout', type: 'duration-seconds', default: 25, min: 0, mode: 'both', effective: true,
    help: 'budget for a graceful stop before children are killed' },
  { name: 'max-failures', type: 'int', default: 0, min: 0, mode: 'master', effective: true,
    help: 'exit 69 after this many consecutive worker failures; 0 = retry forever, except a slave command that cannot start (5 attempts)' },
] as const satisfies readonly TunableSpec[];

export type Tunable = (typeof tunables)[number];
export type TunableName = Tunable['name'];
type SpecOf<N extends TunableName> = Extract<Tunable, { name: N }>;
type ValueOfSpec<S> = S extends { type: 'bool' } ? boolean
  : S extends { type: 'int' | 'float' | 'duration-seconds' } ? number
  : S extends { type: 'enum'; choices: readonly (infer C)[] } ? C
  : string;
export type TunableValue<N extends TunableName> = ValueOfSpec<SpecOf<N>>;
export type TunableValueMap = { [N in TunableName]: TunableValue<N> };

type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;
/** Every tunable as a camelCase property: `opts.syncJobs`, `opts.logLevel`, … */
export type TunableValues = { readonly [N in TunableName as CamelCase<N>]: TunableValue<N> };

/** Where a value came from; `--debug` overrides show as a flag. */
export type ValueSource =
  | { readonly from: 'flag'; readonly flag: string }
  | { readonly from: 'env'; readonly variable: string }
  | { readonly from: 'config'; readonly file: string; readonly line: number }
  | { readonly from: 'default' };

/** Control settings the engine may need; not tunables (no config key, no env variable). */
export interface ControlSettings {
  readonly configFile: string;
  readonly noDaemon: boolean;
  readonly debug: boolean;
  readonly monitor: boolean;
  readonly slave: boolean;
}

/** What runMaster/runSlave receive: every tunable resolved (flag > env > config > default). */
export type ResolvedOptions = TunableValues & {
  get<N extends TunableName>(name: N): TunableValue<N>;
  sourceOf(name: TunableName): ValueSource;
  readonly control: ControlSettings;
};

const byName = new Map<string, Tunable>(tunables.map((t) => [t.name, t]));

/** The tunable a config key / option name denotes (`_` and `-` interchangeable), aliases excluded. */
export function findTunable(name: string): Tunable | undefined {
  return byName.get(name.replace(/_/g, '-').toLowerCase());
}

export function tunableNames(): TunableName[] {
  return tunables.map((t) => t.name);
}

export function camelCaseOf(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** GSYNCD_SYNC_JOBS for sync-jobs. */
export function envVarOf(name: string): string {
  return `GSYNCD_${name.replace(/-/g, '_').toUpperCase()}`;
}

const defaultControl: ControlSettings = { configFile: '', noDaemon: false, debug: false, monitor: false, slave: false };

/** Assemble the frozen ResolvedOptions object from per-tunable values and sources. */
export function buildResolvedOptions(
  values: ReadonlyMap<TunableName, unknown>,
  sources: ReadonlyMap<TunableName, ValueSource>,
  control: ControlSettings,
): ResolvedOptions {
  const full = new Map<TunableName, unknown>(tunables.map((t) => [t.name, values.has(t.name) ? values.get(t.name) : t.default]));
  const target: Record<string, unknown> = {
    get: (name: TunableName) => full.get(name),
    sourceOf: (name: TunableName) => sources.get(name) ?? { from: 'default' },
    control: Object.freeze({ ...control }),
  };
  for (const [name, value] of full) target[camelCaseOf(name)] = value;
  return Object.freeze(target) as unknown as ResolvedOptions;
}

/** Defaults with a few values replaced: for tests and tools that need options without a command line. */
export function defaultOptions(
  overrides: Partial<TunableValueMap> = {},
  control: Partial<ControlSettings> = {},
): ResolvedOptions {
  const values = new Map<TunableName, unknown>(tunables.map((t) => [t.name, t.default]));
  const sources = new Map<TunableName, ValueSource>();
  for (const [name, value] of Object.entries(overrides) as [TunableName, unknown][]) {
    values.set(name, value);
    sources.set(name, { from: 'flag', flag: `--${name}` });
  }
  return buildResolvedOptions(values, sources, { ...defaultControl, ...control });
}
