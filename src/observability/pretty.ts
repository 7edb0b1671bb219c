/**
 * The human-readable log format (`log.format: pretty` or
 * THINGGATE_LOG_FORMAT=pretty): one line per entry — the same ISO 8601 time
 * as the JSON lines, the level name, the message, then the other fields as
 * key=value. Colours only on a terminal.
 */
import { Writable } from 'node:stream';

const COLOURS: Record<string, string> = { fatal: '\x1b[41m', error: '\x1b[31m', warn: '\x1b[33m', info: '\x1b[32m', debug: '\x1b[36m', trace: '\x1b[90m' };
const RESET = '\x1b[0m';
const SKIP = new Set(['time', 'level', 'msg', 'pid', 'hostname', 'name', 'node']);

/** Formats one pino JSON line; returns it unchanged when it is not JSON. */
export function prettyLine(line: string, colour = false): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = String(o.level ?? '')
    .toUpperCase()
    .padEnd(5);
  const lv = colour ? `${COLOURS[String(o.level)] ?? ''}${level}${RESET}` : level;
  const fields = Object.entries(o)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/[\s"=]/.test(v) ? v : JSON.stringify(v)}`);
  return `${String(o.time ?? '')} ${lv} ${String(o.msg ?? '')}${fields.length ? `  ${fields.join(' ')}` : ''}`;
}

/** A destination that writes pretty lines to `out`. */
export function prettyStream(out: NodeJS.WritableStream = process.stdout, colour = process.stdout.isTTY === true): Writable {
  let rest = '';
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      if (lines.length) out.write(`${lines.map((l) => prettyLine(l, colour)).join('\n')}\n`);
      cb();
    },
    final(cb) {
      if (rest) out.write(`${prettyLine(rest, colour)}\n`);
      cb();
    },
  });
}
