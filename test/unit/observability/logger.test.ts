import { describe, it, expect } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/observability/logger.js';

describe('logger', () => {
  it('never writes passwords, tokens, authorization headers or keys', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const logger = createLogger({ level: 'info', destination: sink });
    const child = logger.child({ listener: 'mqtt' });
    child.info(
      { password: 'hunter2', client: { password: 's3cret', username: 'u' }, token: 'tok', headers: { authorization: 'Bearer abc' }, tls: { key: 'PEM' } },
      'connect',
    );
    logger.flush();
    await new Promise((r) => setImmediate(r));
    const out = lines.join('');
    expect(out).toContain('"username":"u"');
    for (const secret of ['hunter2', 's3cret', '"tok"', 'Bearer abc', 'PEM']) expect(out).not.toContain(secret);
    expect(out).toContain('[redacted]');
  });
});
