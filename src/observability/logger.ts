/**
 * Logging: pino JSON lines, one child logger per connection. Credentials are
 * redacted wherever they appear in a logged object.
 */
import pino, { type Logger, type DestinationStream } from 'pino';
import { prettyStream } from './pretty.js';

export type { Logger } from 'pino';

/** Paths never written to the log. */
export const REDACT_PATHS: readonly string[] = [
  'password',
  '*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
  'admin.token',
  '*.key',
  '*.passphrase',
];

export interface LoggerOptions {
  readonly level?: string;
  /** `json` (the default) or `pretty`; THINGGATE_LOG_FORMAT overrides it. */
  readonly format?: 'json' | 'pretty';
  readonly destination?: DestinationStream;
}

/**
 * The gateway's logger: JSON lines with the level by name ("level":"info")
 * and an ISO 8601 time, or the same entries as readable lines.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.THINGGATE_LOG_LEVEL ?? 'info';
  const format = process.env.THINGGATE_LOG_FORMAT ?? options.format ?? 'json';
  const out = options.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(
    {
      name: 'thinggate',
      level,
      base: { pid: process.pid },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    format === 'pretty' ? prettyStream(out as unknown as NodeJS.WritableStream, options.destination === undefined && process.stdout.isTTY === true) : out,
  );
}

/** A logger that writes nothing (tests, dry-run tools). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
