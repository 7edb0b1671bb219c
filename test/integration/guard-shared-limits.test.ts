/**
 * Rate limits across nodes: two nodes' SharedRateCounters over the Redis
 * Counters of one real redis-server. What one node takes drains the other's
 * bucket after a flush; a node alone keeps its local bucket.
 */
import { describe, expect, it } from 'vitest';
import { RedisCounters } from '../../src/state/redis/counters.js';
import { SharedRateCounter } from '../../src/guard/shared-rate-counter.js';
import { withRedis } from '../helpers/with-redis.js';

const redis = withRedis();

async function node(): Promise<SharedRateCounter> {
  const link = await redis.link('shared-limits:');
  return new SharedRateCounter('mqtt:messages:clientId', { perSecond: 10, burst: 10 }, new RedisCounters(link));
}

/** Waits for the start of a second: the shared counters' windows are whole seconds of the clock. */
async function earlyInASecond(): Promise<void> {
  while (Date.now() % 1000 > 300) await new Promise((r) => setTimeout(r, 20));
}

describe('rate limits across nodes (Redis counters)', () => {
  it("one node's use drains the other node's bucket after a flush", async () => {
    const a = await node();
    const b = await node();
    await earlyInASecond();
    expect(b.take('dev-1', 1)).toBe(0);
    for (let i = 0; i < 10; i++) expect(a.take('dev-1', 1)).toBe(0);
    // Before the flush b knows nothing of a: it decides on its own bucket.
    expect(b.take('dev-1', 1)).toBe(0);
    await a.flush();
    await b.flush();
    // b has now been charged a's 10: its bucket (10 − 2 − 10) is in debt.
    expect(b.take('dev-1', 1)).toBeGreaterThan(0);
    // Another key is untouched.
    expect(b.take('dev-2', 1)).toBe(0);
  });
});
