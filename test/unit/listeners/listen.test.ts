import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { listenTcp } from '../../../src/listeners/listen.js';

describe('listenTcp', () => {
  it('binds, and refuses an address in use with TG_ERR_LISTEN naming the listener', async () => {
    const first = createServer();
    const second = createServer();
    try {
      await listenTcp(first, 'one', '127.0.0.1', 0);
      const port = (first.address() as AddressInfo).port;
      await expect(listenTcp(second, 'two', '127.0.0.1', port)).rejects.toMatchObject({
        code: 'TG_ERR_LISTEN',
        message: expect.stringContaining(`listener 'two' cannot bind 127.0.0.1:${port}`),
      });
      // The one-shot handler is gone once listening: a later error reaches the listener's own handlers only.
      expect(first.listenerCount('error')).toBe(0);
    } finally {
      first.close();
      second.close();
    }
  });
});
