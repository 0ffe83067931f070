// pino NDJSON logs: stdout by default, or a file (`-` = stderr). Secrets never reach the log:
// known secret-bearing keys are redacted wherever they appear.
import pino, { type Logger } from 'pino';

export type { Logger };

export const redactPaths = ['password', 'passphrase', 'privateKey', '*.password', '*.passphrase', '*.privateKey', 'key', '*.key', 'identity', '*.identity'];

export function createLogger(opts: { level?: string; file?: string; base?: Record<string, unknown> } = {}): Logger {
  const level = (opts.level ?? 'info').toLowerCase();
  const dest = !opts.file ? 1 : opts.file === '-' || opts.file === '/dev/stderr' ? 2 : opts.file === '/dev/stdout' ? 1 : opts.file;
  return pino(
    { level, base: { pid: process.pid, ...opts.base }, redact: { paths: redactPaths, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest, sync: true, mkdir: typeof dest === 'string' }),
  );
}

/** The part of a logger that library code needs: a pino Logger is one, so is a test's recorder. */
export interface EngineLog {
  /** Every entry op and its result (optional: loggers without trace skip it). */
  trace?(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
