/** Level names, one time format, and the pretty mode. */
import { describe, it, expect } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/observability/logger.js';
import { prettyLine } from '../../../src/observability/pretty.js';

function capture(): { sink: Writable; text: () => string } {
  const chunks: string[] = [];
  return {
    sink: new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c.toString());
        cb();
      },
    }),
    text: () => chunks.join(''),
  };
}

describe('logger format', () => {
  it('writes the level by name and an ISO 8601 time', async () => {
    const { sink, text } = capture();
    createLogger({ level: 'info', destination: sink }).warn({ listener: 'mqtt' }, 'hello');
    await new Promise((r) => setImmediate(r));
    const line = JSON.parse(text()) as Record<string, unknown>;
    expect(line.level).toBe('warn');
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('pretty: one readable line with the same time, level name, message and fields', async () => {
    const { sink, text } = capture();
    createLogger({ level: 'info', destination: sink, format: 'pretty' }).info({ listener: 'mqtt', url: 'mqtt://127.0.0.1:1883', n: 2 }, 'listening');
    await new Promise((r) => setImmediate(r));
    expect(text()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}listening {2}listener=mqtt url=mqtt:\/\/127\.0\.0\.1:1883 n=2\n$/);
  });

  it('pretty: quotes values with spaces and passes non-JSON through', () => {
    expect(prettyLine('{"time":"t","level":"error","msg":"m","reason":"a b"}')).toBe('t ERROR m  reason="a b"');
    expect(prettyLine('not json')).toBe('not json');
  });
});
