/**
 * A pino logger whose lines a test reads back, parsed: for the log line an
 * operator is meant to see (a failure reported rather than swallowed).
 */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export interface LogSink {
  readonly logger: Logger;
  readonly lines: Array<Record<string, unknown>>;
}

export function logSink(): LogSink {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}
