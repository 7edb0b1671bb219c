/**
 * Logging: pino JSON lines, one child logger per connection. Credentials are
 * redacted wherever they appear in a logged object.
 */
import pino, { type Logger, type DestinationStream } from 'pino';

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
  readonly destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.THINGGATE_LOG_LEVEL ?? 'info';
  return pino(
    {
      name: 'thinggate',
      level,
      base: { pid: process.pid },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** A logger that writes nothing (tests, dry-run tools). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
