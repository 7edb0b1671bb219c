/**
 * The state contracts on the Redis backend against a real redis-server on a
 * free loopback port, and the degraded mode: Redis killed mid-test, every
 * operation answers without throwing, and what waited is written once Redis
 * is back.
 */
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createState, type State } from '../../src/state/index.js';
import { RedisLink } from '../../src/state/redis/link.js';
import { RedisPresence } from '../../src/state/redis/presence.js';
import { RedisBus } from '../../src/state/redis/bus.js';
import { RedisCounters } from '../../src/state/redis/counters.js';
import { RedisBanStore } from '../../src/state/redis/bans.js';
import { presenceContract } from '../helpers/state-contracts/presence.js';
import { busContract } from '../helpers/state-contracts/bus.js';
import { countersContract } from '../helpers/state-contracts/counters.js';
import { banStoreContract } from '../helpers/state-contracts/bans.js';
import { scriptStateContract } from '../helpers/state-contracts/script-state.js';
import { RedisScriptState } from '../../src/state/redis/script-state.js';
import { withRedis } from '../helpers/with-redis.js';

const TTL = 400;
const redis = withRedis();
let worlds = 0;

/** Links of one world share a key prefix of their own, so worlds never see each other's keys. */
async function links(): Promise<{ link(): Promise<RedisLink>; close(): Promise<void> }> {
  const prefix = `t${++worlds}:`;
  const open: RedisLink[] = [];
  return {
    async link() {
      const l = await redis.link(prefix);
      open.push(l);
      return l;
    },
    async close() {
      for (const l of open) await l.close();
    },
  };
}

/** Contract factories are synchronous per node: connect the links up front. */
async function world<T>(make: (l: RedisLink, id: string) => T, nodes = ['a', 'b', 'c', 'nobody']): Promise<{ node(id?: string): T; close(): Promise<void> }> {
  const w = await links();
  const byId = new Map<string, T>();
  for (const id of nodes) byId.set(id, make(await w.link(), id));
  let anon = 0;
  return { node: (id = nodes[anon++ % nodes.length]!) => byId.get(id)!, close: () => w.close() };
}

presenceContract('redis', async () => ({ nodeTtlMs: TTL, ...(await world((l, id) => new RedisPresence(l, id, TTL))) }));
busContract('redis', () => world((l, id) => new RedisBus(l, id)));
countersContract('redis', () => world((l) => new RedisCounters(l)));
scriptStateContract('redis', () => world((l, id) => new RedisScriptState(l, id)));
banStoreContract('redis', async () => {
  const w = await links();
  const pending: RedisLink[] = [];
  for (let i = 0; i < 4; i++) pending.push(await w.link());
  return { notifies: true, open: () => new RedisBanStore(pending.shift()!), close: () => w.close() };
});

describe('Redis outage: a degraded mode, never a crash', () => {
  it('has ban watchers read the bans once Redis is reachable (a node that starts before its connection is up)', async () => {
    const link = new RedisLink({ url: redis.url, keyPrefix: 'late:' });
    const store = new RedisBanStore(link);
    let fired = 0;
    store.watch(() => fired++);
    expect(fired).toBe(0);
    expect(await link.connect()).toBe(true);
    await expect.poll(() => fired, { timeout: 5000 }).toBeGreaterThan(0);
    await store.close();
    await link.close();
  });

  it('answers every operation while Redis is down, reconnects by itself, and writes the bans that waited', async () => {
    const errors: string[] = [];
    const statuses: boolean[] = [];
    const state: State = createState(
      { backend: 'redis', url: redis.url, keyPrefix: 'outage:', nodeTtlMs: 5000 },
      { nodeId: 'n1', onError: (op) => errors.push(op), onStatus: (up) => statuses.push(up) },
    );
    expect(await state.start()).toBe(true);
    await state.presence.heartbeat();
    expect(await state.presence.claim('d1')).toBeUndefined();

    await redis.server.stop(); // kill -9: an outage
    await expect.poll(() => state.connected(), { timeout: 5000 }).toBe(false);
    expect(await state.presence.claim('d2')).toBeUndefined();
    expect(await state.presence.lookup('d1')).toBeUndefined();
    expect(await state.bus.send('n2', { kind: 'close', clientId: 'd1', byNode: 'n1', reason: 'x' })).toBe(false);
    expect(await state.counters.add('k', 2, 60_000)).toBe(2); // counted locally meanwhile
    await state.bans.put({ id: 'during', kind: 'ip', value: '192.0.2.1', reason: 'outage', source: 'api', createdAt: 1 });
    expect((await state.bans.all()).map((b) => b.id)).toEqual(['during']); // held here at once
    expect(errors).toEqual(expect.arrayContaining(['presence.claim', 'presence.lookup', 'bus.publish', 'counters.add', 'bans.write']));

    await redis.server.start();
    await expect.poll(() => state.connected(), { timeout: 10_000 }).toBe(true);
    expect(statuses).toEqual([true, false, true]);
    const direct = new Redis(redis.url);
    try {
      await expect.poll(async () => Object.keys(await direct.hgetall('outage:bans')), { timeout: 5000 }).toEqual(['during']);
    } finally {
      direct.disconnect();
    }
    await state.presence.heartbeat();
    expect(await state.presence.claim('d3')).toBeUndefined();
    expect(await state.presence.lookup('d3')).toBe('n1');
    await state.close();
  }, 30_000);
});
