// The command: parse, then help/version/URL printing/config operations, or run a session
// (master) or serve one (--slave). Every failure becomes one `gsyncd: …` line and an exit status.
import { writeFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { describeError, exitCodeMeaning, exitCodeOf, gsyncdError, isGsyncdError } from '../core/errors.js';
import { formatValue } from '../options/option-values.js';
import { defaultConfigPath, defaultRemoteGsyncd, packageVersion } from '../options/package-info.js';
import { findTunable, tunables, type ResolvedOptions } from '../options/tunables.js';
import type { runSlave } from '../slave/run.js';
import { canonicalizeEscapeUrl, canonicalizeUrl, quotePlus } from '../url/canonical.js';
import { checkPair } from '../url/pair.js';
import { normalizeUrl, parseUrl, volumeOf, type ResourceUrl } from '../url/url.js';
import { parseArgs, type ConfigOp, type ParsedArgs, type UrlForm } from './args.js';
import { editConfigFile, tunableForConfigOp } from './config-edit.js';
import { applicableEntries, loadConfigFile } from './config-file.js';
import { renderDefaultConfig, renderOptionsDoc } from './docs.js';
import { renderHelp } from './help.js';
import { resolveOptions } from './resolve.js';

/** Everything main touches outside itself, so tests can run it in-process. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly defaultConfigFile: string;
  readonly runMaster: (opts: ResolvedOptions, master: ResourceUrl, slave: ResourceUrl) => Promise<number>;
  readonly runSlave: typeof runSlave;
}

function withDefaults(io: Partial<CliIo>): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
    defaultConfigFile: defaultConfigPath,
    // Loaded by role: a slave never loads the monitor's HTTP and metrics stack, nor ssh2.
    runMaster: async (opts, master, slave) => {
      const [{ runMaster }, { openSlave }] = await Promise.all([import('../master/run.js'), import('../slave/open.js')]);
      return runMaster(opts, master, slave, (url, log, hooks) => openSlave(opts, url, log, hooks));
    },
    runSlave: async (...args) => (await import('../slave/run.js')).runSlave(...args),
    ...io,
  };
}

/** Run gsyncd with `argv` (without node and script); resolves to the exit status. */
export async function main(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const cli = withDefaults(io);
  try {
    const sub = await subcommand(argv, cli);
    if (sub !== null) return sub;
    return await dispatch(parseArgs(argv), cli);
  } catch (err) {
    cli.stderr(`gsyncd: ${describeError(err)}\n`);
    return exitCodeOf(err);
  }
}

/**
 * Commands that are not a sync session: the slave host's forced-command dispatcher
 * (`--dispatch`, run by sshd from authorized_keys), the slave container's agent (`slave-agent`).
 * null = not a subcommand.
 */
async function subcommand(argv: string[], io: CliIo): Promise<number | null> {
  if (argv[0] === '--dispatch') {
    const { dispatchMain } = await import('./dispatch-main.js');
    return dispatchMain(argv.slice(1), io.env);
  }
  if (argv[0] === 'slave-agent' || argv[0] === 'secondary-agent') {
    const { runSlaveAgent } = await import('../slave/agent.js');
    return runSlaveAgent(argv.slice(1), io.env, { stdout: io.stdout });
  }
  if (argv[0] === 'status') return statusCommand(argv.slice(1), io);
  if (argv[0] === 'healthcheck') return healthcheck(argv[1] ?? 'http://127.0.0.1:9754/healthz');
  return null;
}

/**
 * `gsyncd status …` (status-args.ts): one verdict, exit code per verdict. The session is found as
 * the daemon finds it: the same flags, environment and config file (the pair's section too).
 */
async function statusCommand(argv: string[], io: CliIo): Promise<number> {
  const { parseStatusArgs, statusUsage } = await import('./status-args.js');
  const a = parseStatusArgs(argv);
  if (a.help) {
    io.stdout(`Usage: ${statusUsage}\n`);
    return 0;
  }
  const { runStatus } = await import('../observe/status-command.js');
  const { httpUrlFromBind } = await import('../observe/http.js');
  const { sessionPaths } = await import('../session/paths.js');
  const urls = a.positionals.map(parseUrl);
  const [master, slave] = urls;
  if (master && slave) checkPair(master, slave);
  const opts = await resolveFor({ tunables: a.tunables, configFile: a.configFile, noDaemon: false, debug: false, monitor: false, slave: false }, urls, io, false);
  const stateFile = master && slave ? sessionPaths(opts, master, slave).stateFile : opts.get('state-file');
  // As before: the daemon is asked only when told where it listens.
  const bind = opts.sourceOf('http-bind').from === 'default' ? undefined : opts.get('http-bind');
  return runStatus({
    json: a.json,
    ...(stateFile ? { stateFiles: [stateFile] } : {}),
    stateDir: opts.get('state-dir'),
    httpUrl: a.httpUrl ?? (bind ? httpUrlFromBind(bind) : undefined),
    thresholds: { inSyncLagS: opts.get('in-sync-lag'), stallTimeoutS: opts.get('stall-timeout') },
    version: packageVersion(),
    out: { write: (t: string) => io.stdout(t) },
  });
}

/** `gsyncd healthcheck URL`: exit 0 on a 2xx answer within 2 s (container HEALTHCHECK; no curl in images). */
async function healthcheck(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return res.ok ? 0 : 1;
  } catch {
    return 1;
  }
}

async function dispatch(args: ParsedArgs, io: CliIo): Promise<number> {
  const { action } = args;
  switch (action.kind) {
    case 'help':
      io.stdout(renderHelp({ 'remote-gsyncd': defaultRemoteGsyncd() }));
      return 0;
    case 'version':
      io.stdout(`gsyncd ${packageVersion()}\n`);
      return 0;
    case 'gen-docs':
      await writeFile(resolvePath(io.cwd, action.file), renderOptionsDoc());
      return 0;
    case 'gen-conf':
      await writeFile(resolvePath(io.cwd, action.file), renderDefaultConfig());
      return 0;
    case 'print-urls':
      for (const text of args.positionals) io.stdout(`${await printUrl(parseUrl(text), action.form)}\n`);
      return 0;
    case 'config':
      return configOperation(action.op, args, io);
    case 'slave':
      return reportingTo(errorFileOf(args, io), async (found) => {
        const [root] = args.positionals.map(parseUrl) as [ResourceUrl];
        const opts = await resolveFor(args, [root], io, false);
        found(opts.get('error-file'));
        return io.runSlave(opts, root);
      });
    case 'session':
      return reportingTo(errorFileOf(args, io), async (found) => {
        const [master, slave] = args.positionals.map(parseUrl) as [ResourceUrl, ResourceUrl];
        checkPair(master, slave);
        const opts = await resolveFor(args, [master, slave], io, false);
        found(opts.get('error-file'));
        if (args.monitor && (opts.get('once') || opts.get('turns') > 0)) {
          throw gsyncdError('GSYNCD_ERR_USAGE', `--monitor cannot be combined with --${opts.get('once') ? 'once' : 'turns'}: a bounded run has no monitor`);
        }
        return io.runMaster(opts, master, slave);
      });
  }
}

/** --error-file as known before the config file is read (flag, then environment). */
function errorFileOf(args: ParsedArgs, io: CliIo): string {
  const flag = args.tunables.get('error-file')?.value;
  const file = typeof flag === 'string' ? flag : io.env['GSYNCD_ERROR_FILE'] ?? '';
  return file === '' ? '' : resolvePath(io.cwd, file);
}

/**
 * Run a session; on a non-zero exit write `GSYNCD_ERR_<CODE>: <message>` to --error-file (e.g.
 * /dev/termination-log, so `kubectl describe` shows why). `found` updates the file once the
 * config file is read; errors before that go to the one given by flag or environment.
 */
async function reportingTo(initial: string, run: (found: (file: string) => void) => Promise<number>): Promise<number> {
  let file = initial;
  const write = async (line: string) => {
    if (file) await writeFile(file, `${line}\n`).catch(() => undefined); // never mask the real failure
  };
  try {
    const code = await run((f) => { file = f; });
    if (code !== 0) await write(`GSYNCD_ERR_EXIT: gsyncd stopped with exit status ${code}: ${exitMeaning(code)}`);
    return code;
  } catch (err) {
    await write(`${isGsyncdError(err) ? err.code : 'GSYNCD_ERR_INTERNAL'}: ${describeError(err)}`);
    throw err;
  }
}

function exitMeaning(code: number): string {
  return (exitCodeMeaning as Record<number, string>)[code] ?? 'see the log';
}

async function printUrl(url: ResourceUrl, form: UrlForm): Promise<string> {
  switch (form) {
    case 'normalize': return normalizeUrl(url);
    case 'canonicalize': return canonicalizeUrl(url);
    case 'canonicalize-escape': return canonicalizeEscapeUrl(url);
  }
}

async function configOperation(op: ConfigOp, args: ParsedArgs, io: CliIo): Promise<number> {
  if (op.op === 'check') return findTunable(op.name) === undefined ? 1 : 0;
  const urls = args.positionals.map(parseUrl);
  if (op.op === 'set' || op.op === 'del') {
    await editConfigFile(configPath(args, io), op, urls.map(normalizeUrl));
    return 0;
  }
  const wanted = op.op === 'get' ? tunableForConfigOp(op.name) : undefined;
  const opts = await resolveFor(args, urls, io, true);
  for (const t of wanted === undefined ? tunables : [wanted]) {
    const value = formatValue(opts.get(t.name));
    io.stdout(wanted === undefined ? `${t.name}:${value === '' ? '' : ` ${value}`}\n` : `${value}\n`);
  }
  return 0;
}

/** What resolution needs of a command line (a session's, or `status`'s). */
type ResolveArgs = Pick<ParsedArgs, 'tunables' | 'configFile' | 'noDaemon' | 'debug' | 'monitor' | 'slave'>;

function configPath(args: Pick<ParsedArgs, 'configFile'>, io: CliIo): string {
  return args.configFile === undefined ? io.defaultConfigFile : resolvePath(io.cwd, args.configFile);
}

/** All layers for a process working on `urls` (2 = master side, 1 = slave side, 0 = global only). */
async function resolveFor(args: ResolveArgs, urls: readonly ResourceUrl[], io: CliIo, printing: boolean): Promise<ResolvedOptions> {
  const path = configPath(args, io);
  const config = await loadConfigFile(path, args.configFile !== undefined);
  return resolveOptions({
    flags: args.tunables,
    env: io.env,
    entries: applicableEntries(config, urls.map(normalizeUrl)),
    templateVars: templateVars(urls),
    lenientTemplates: printing,
    cwd: io.cwd,
    derivedDefaults: { 'remote-gsyncd': defaultRemoteGsyncd() },
    control: { configFile: path, noDaemon: args.noDaemon || args.debug, debug: args.debug, monitor: args.monitor, slave: args.slave },
  });
}

/** `${master}` & co.; with one URL (slave side) it is the slave. */
function templateVars(urls: readonly ResourceUrl[]): Record<string, string | undefined> {
  const [master, slave] = urls.length === 1 ? [undefined, urls[0]] : [urls[0], urls[1]];
  const vars: Record<string, string | undefined> = {};
  for (const [role, url] of [['master', master], ['slave', slave]] as const) {
    if (url === undefined) continue;
    const Role = role === 'master' ? 'Master' : 'Slave';
    vars[role] = normalizeUrl(url);
    vars[`e${Role}`] = quotePlus(normalizeUrl(url));
    vars[`${role}vol`] = volumeOf(url);
  }
  return vars;
}
