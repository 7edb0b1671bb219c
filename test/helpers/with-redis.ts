/**
 * One redis-server for a test file (see redis-server.ts): started before its
 * tests and ended after them, once the Redis links the tests opened through
 * it are closed. Call at the top level of the file.
 *
 * @example
 * const redis = withRedis();
 * it('...', async () => {
 *   const link = await redis.link('my-test:');
 * });
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { RedisLink, type RedisLinkOptions } from '../../src/state/redis/link.js';
import { RedisServer } from './redis-server.js';

export interface RedisFixture {
  /** The server (started by the time a test runs); `stop()` and `start()` simulate an outage. */
  readonly server: RedisServer;
  readonly url: string;
  /** A connected link with keys under `keyPrefix`, closed after the file's tests. */
  link(keyPrefix: string, options?: Omit<RedisLinkOptions, 'url' | 'keyPrefix'>): Promise<RedisLink>;
}

export function withRedis(): RedisFixture {
  let server: RedisServer | undefined;
  const links: RedisLink[] = [];
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    for (const l of links.splice(0)) await l.close();
    await server?.stop('SIGTERM');
  });
  const fixture: RedisFixture = {
    get server(): RedisServer {
      if (!server) throw new Error('withRedis(): the server starts in beforeAll');
      return server;
    },
    get url(): string {
      return fixture.server.url;
    },
    async link(keyPrefix, options = {}) {
      const l = new RedisLink({ ...options, url: fixture.url, keyPrefix });
      links.push(l);
      expect(await l.connect()).toBe(true);
      return l;
    },
  };
  return fixture;
}
