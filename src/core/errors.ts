// Every error gsyncd reports is created here, with a stable code and the exit status it maps to.
// Users (and tests) match on `err.code`, never on message text or `instanceof`.

export const ExitCode = {
  ok: 0,
  unexpected: 1,
  usage: 64,
  slaveUnavailable: 69,
  config: 78,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Exit status → what it means, for the README and `--help`. */
export const exitCodeMeaning: Record<ExitCode, string> = {
  0: 'success',
  1: 'unexpected failure (see the log)',
  64: 'usage error: bad option, argument or URL',
  69: 'slave unavailable: cannot reach or authenticate to the slave, host key refused, or the slave command cannot start',
  78: 'configuration error: bad config file line or value',
};

const definitions = {
  GSYNCD_ERR_USAGE: ExitCode.usage,
  GSYNCD_ERR_UNKNOWN_OPTION: ExitCode.usage,
  GSYNCD_ERR_BAD_OPTION_VALUE: ExitCode.usage,
  GSYNCD_ERR_NOT_YET_EFFECTIVE: ExitCode.usage,
  GSYNCD_ERR_BAD_URL: ExitCode.usage,
  GSYNCD_ERR_URL_PAIR: ExitCode.usage,
  GSYNCD_ERR_CONFIG: ExitCode.config,
  GSYNCD_ERR_SLAVE_UNAVAILABLE: ExitCode.slaveUnavailable,
  GSYNCD_ERR_HOST_KEY: ExitCode.slaveUnavailable,
  GSYNCD_ERR_RPC: ExitCode.slaveUnavailable,
  /** The slave host cannot run --remote-gsyncd (not found, not executable, another version). */
  GSYNCD_ERR_SLAVE_COMMAND: ExitCode.slaveUnavailable,
  GSYNCD_ERR_UNSAFE_PATH: ExitCode.unexpected,
  GSYNCD_ERR_RSYNC: ExitCode.unexpected,
  GSYNCD_ERR_MOUNT: ExitCode.unexpected,
  GSYNCD_ERR_SAFETY_HALT: ExitCode.unexpected,
  GSYNCD_ERR_TIMESTAMP: ExitCode.unexpected,
  GSYNCD_ERR_STATE: ExitCode.unexpected,
  GSYNCD_ERR_SESSION_BUSY: ExitCode.unexpected,
  GSYNCD_ERR_INTERNAL: ExitCode.unexpected,
} as const satisfies Record<string, ExitCode>;

export type ErrorCode = keyof typeof definitions;
export const errorCodes = Object.keys(definitions) as ErrorCode[];

export class GsyncdError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GsyncdError';
    this.code = code;
    this.exitCode = definitions[code];
  }
}

export function gsyncdError(code: ErrorCode, message: string, cause?: unknown): GsyncdError {
  return new GsyncdError(code, message, cause === undefined ? undefined : { cause });
}

export function isGsyncdError(err: unknown, code?: ErrorCode): err is GsyncdError {
  return err instanceof Error && typeof (err as GsyncdError).code === 'string' &&
    (err as GsyncdError).code.startsWith('GSYNCD_ERR_') && (code === undefined || (err as GsyncdError).code === code);
}

/** Exit status for anything thrown: our errors carry one, everything else is unexpected. */
export function exitCodeOf(err: unknown): ExitCode {
  return isGsyncdError(err) ? err.exitCode : ExitCode.unexpected;
}

/** One line for the user: the message plus the chain of causes, innermost last. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 8; depth++) {
    parts.push(cur instanceof Error ? cur.message : String(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(': ');
}
