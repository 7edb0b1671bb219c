/**
 * The device stores on Redis (sessions, retained messages, mailboxes)
 * against a real redis-server on a free loopback port: the same contract
 * suites as the embedded stores, what two nodes sharing them see, and the
 * outage (every operation fails rather than acknowledging what Redis did
 * not take).
 */
import { describe, expect, it } from 'vitest';
import { jsonCodec } from '../../src/state/codec.js';
import type { RedisLink } from '../../src/state/redis/link.js';
import { RedisSessionStore } from '../../src/state/redis/sessions.js';
import { RedisRetainedStore } from '../../src/state/redis/retained.js';
import { RedisMailboxStore } from '../../src/state/redis/mailbox.js';
import { RedisPresence } from '../../src/state/redis/presence.js';
import type { MailboxStore, NewCommand } from '../../src/state/mailbox.js';
import type { SessionStore } from '../../src/state/sessions.js';
import type { RetainedStore } from '../../src/state/retained.js';
import { sessionStoreContract } from '../helpers/state-contracts/sessions.js';
import { retainedStoreContract } from '../helpers/state-contracts/retained.js';
import { mailboxContract } from '../helpers/state-contracts/mailbox.js';
import { withRedis } from '../helpers/with-redis.js';

const redis = withRedis();
let worlds = 0;
const link = (prefix: string): Promise<RedisLink> => redis.link(prefix);

/** Each store (and its reopen) gets a key prefix of its own: stores of one test never see another test's keys. */
const prefixes = new WeakMap<object, string>();
async function fresh<T extends object>(make: (l: RedisLink) => T, prefix = `d${++worlds}:`): Promise<T> {
  const store = make(await link(prefix));
  prefixes.set(store, prefix);
  return store;
}
async function again<T extends object>(old: T & { close(): Promise<void> }, make: (l: RedisLink) => T): Promise<T> {
  await old.close();
  return fresh(make, prefixes.get(old)!);
}

type Queued = { n: number };
type Retained = { topic: string; v: string };
const sessions = (l: RedisLink): SessionStore<Queued> => new RedisSessionStore<Queued>(l, jsonCodec());
sessionStoreContract(
  'redis',
  () => fresh(sessions),
  (s) => again(s, sessions),
);
retainedStoreContract(
  'redis',
  (maxMessages, maxBytes) => fresh((l): RetainedStore<Retained> => new RedisRetainedStore<Retained>(l, jsonCodec(), { maxMessages, maxBytes })),
  (s) => again(s, (l): RetainedStore<Retained> => new RedisRetainedStore<Retained>(l, jsonCodec())),
);
mailboxContract('redis', {
  create: () => fresh((l): MailboxStore => new RedisMailboxStore(l)),
  reopen: (s) => again(s, (l): MailboxStore => new RedisMailboxStore(l)),
  peer: async (s) => new RedisMailboxStore(await link(prefixes.get(s)!)),
});

/** A one-byte command of `clientId` that does not expire. */
function command(id: string, clientId: string, createdAt: number): NewCommand {
  return { id, clientId, address: 'c', payload: '', qos: 1, response: 'none', size: 1, expiresAt: 1e13, createdAt };
}

describe('device stores shared by two nodes', () => {
  it('stops queuing on the node that parked a session once another node resumed it, even after it is parked there again', async () => {
    const prefix = `two${++worlds}:`;
    const a = new RedisSessionStore<{ n: number }>(await link(prefix), jsonCodec());
    const b = new RedisSessionStore<{ n: number }>(await link(prefix), jsonCodec());
    const limits = { maxMessages: 10, maxBytes: 1000 };
    const p = (n: number) => ({ message: { n }, qos: 1 as const, bytes: 1 });
    await a.save({ clientId: 'x', expiresAt: Date.now() + 60_000, subscriptions: [{ filter: 't', qos: 1 }], pending: [] });
    expect(await a.enqueue('x', p(1), limits)).toBe('queued');
    expect(await b.enqueue('x', p(2), limits)).toBe('no-session'); // parked on a, not on b
    const resumed = await b.take('x');
    expect(resumed?.pending.map((m) => m.message.n)).toEqual([1]);
    await b.save({ ...resumed!, pending: [] });
    expect(await a.enqueue('x', p(3), limits)).toBe('no-session');
    expect(await b.enqueue('x', p(4), limits)).toBe('queued');
    expect((await a.take('x'))?.pending.map((m) => m.message.n)).toEqual([4]);
  });

  it("adopts a node's held sessions once its heartbeat lapsed, on one node only, and its own only when asked", async () => {
    const prefix = `two${++worlds}:`;
    const ttl = 2000; // long enough for the checks of a live node on a loaded host
    const store = async (nodeId: string) => new RedisSessionStore<{ n: number }>(await link(prefix), jsonCodec(), { nodeId, nodeTtlMs: ttl });
    const [a, b, c] = await Promise.all([store('node-a'), store('node-b'), store('node-c')]);
    const presence = new RedisPresence(await link(prefix), 'node-a', ttl);
    await presence.heartbeat();
    const held = { clientId: 'dev', subscriptions: [], expirySeconds: 60, will: { delaySeconds: 1, data: { topic: 'w' } } };
    await a.hold(held);
    await a.hold({ ...held, clientId: 'resumed' });
    expect(await b.take('resumed')).toBeDefined(); // its device reconnected to node B: nothing of it is left to adopt
    expect(await b.adoptOrphans(false)).toBe(0); // node A is alive
    expect(await a.adoptOrphans(false)).toBe(0);
    await expect.poll(async () => (await presence.nodes()).length, { timeout: 15_000 }).toBe(0);
    const adopted = await Promise.all([b.adoptOrphans(false), c.adoptOrphans(false)]);
    expect(adopted.reduce((x, y) => x + y)).toBe(1);
    expect(await b.count()).toBe(1);
    expect((await c.claimDueWills(Date.now() + 1000)).map((d) => d.clientId)).toEqual(['dev']);
    // A restarted node A adopts what it held before (only itself can tell that its previous process is gone).
    await a.hold({ ...held, clientId: 'mine' });
    await presence.heartbeat();
    expect(await b.adoptOrphans(false)).toBe(0);
    expect(await a.adoptOrphans(true)).toBe(1);
    expect((await b.take('mine'))?.will?.data).toEqual({ topic: 'w' });
  });

  it("adopts no other node's sessions for two node TTLs after its Redis connection came back (their heartbeats lag)", async () => {
    const prefix = `two${++worlds}:`;
    const ttl = 500;
    const lb = await link(prefix);
    const b = new RedisSessionStore<{ n: number }>(lb, jsonCodec(), { nodeId: 'node-b', nodeTtlMs: ttl });
    const a = new RedisSessionStore<{ n: number }>(await link(prefix), jsonCodec(), { nodeId: 'node-a', nodeTtlMs: ttl });
    // Redis drops node B's connection (as in an outage); ioredis reconnects.
    const back = new Promise<number>((resolve) => lb.onReady(() => resolve(Date.now())));
    const id = await lb.cmd.client('ID');
    await (await link(prefix)).cmd.client('KILL', 'ID', String(id));
    const readyAt = await back;
    await a.hold({ clientId: 'dev', subscriptions: [], expirySeconds: 60 }); // node A never beats: dead
    expect(await b.adoptOrphans(false)).toBe(0);
    await expect.poll(() => b.adoptOrphans(false), { timeout: 15_000, interval: 200 }).toBe(1);
    expect(Date.now() - readyAt).toBeGreaterThanOrEqual(2 * ttl);
  });

  it("requeues only the sent commands no live node awaits (a restarting node leaves the others' deliveries alone)", async () => {
    const prefix = `two${++worlds}:`;
    const a = new RedisMailboxStore(await link(prefix));
    const c = new RedisMailboxStore(await link(prefix));
    const limits = { maxMessagesPerDevice: 10, maxBytesPerDevice: 1000, maxMessagesTotal: 100 };
    for (const [id, dev] of [
      ['live', 'a'],
      ['dead', 'b'],
      ['anon', 'c'],
      ['waiting', 'd'],
    ] as const)
      await a.enqueue(command(id, dev, 1), limits);
    await a.transition('live', 'sent', { at: 2, node: 'node-a' });
    await a.transition('dead', 'sent', { at: 2, node: 'node-gone' });
    await a.transition('anon', 'sent', { at: 2 });
    expect((await c.requeueUnawaited(3, (r) => r.sentBy === 'node-a')).sort()).toEqual(['b', 'c']);
    expect((await a.get('live'))?.state).toBe('sent');
    expect((await a.get('dead'))?.state).toBe('queued');
    expect((await a.get('anon'))?.state).toBe('queued');
    expect((await a.get('waiting'))?.timestamps).toEqual({ queued: 1 });
    expect(await a.requeueSent(4)).toEqual(['a']); // alone, every sent command goes back
  });

  it('keeps one queue order and one bound across nodes enqueuing at once', async () => {
    const prefix = `two${++worlds}:`;
    const a = new RedisMailboxStore(await link(prefix));
    const b = new RedisMailboxStore(await link(prefix));
    const limits = { maxMessagesPerDevice: 5, maxBytesPerDevice: 1000, maxMessagesTotal: 100 };
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).enqueue(command(`m${String(i).padStart(3, '0')}`, 'dev', i), limits)),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(5);
    expect(await a.usage('dev')).toEqual({ messages: 5, bytes: 5 });
    const order = (await b.queued('dev', 10)).map((r) => r.id);
    expect(await a.queued('dev', 10)).toEqual(await b.queued('dev', 10));
    expect(order).toHaveLength(5);
  });
});

describe('Redis outage: the device stores refuse rather than lose', () => {
  it('fails enqueue, save and set while Redis is down and works again once it is back', async () => {
    const l = await link(`out${++worlds}:`);
    const mailbox = new RedisMailboxStore(l);
    const store = new RedisSessionStore<{ n: number }>(l, jsonCodec());
    const retained = new RedisRetainedStore<{ n: number }>(l, jsonCodec());
    const cmd = { id: 'o1', clientId: 'dev', address: 'c', payload: '', qos: 1 as const, response: 'none' as const, size: 1, expiresAt: 1e13, createdAt: 1 };
    const limits = { maxMessagesPerDevice: 5, maxBytesPerDevice: 1000, maxMessagesTotal: 100 };
    await redis.server.stop();
    await expect.poll(() => l.connected, { timeout: 5000 }).toBe(false);
    await expect(mailbox.enqueue(cmd, limits)).rejects.toThrow();
    await expect(store.save({ clientId: 's', expiresAt: Date.now() + 1000, subscriptions: [], pending: [] })).rejects.toThrow();
    await expect(retained.set('t', { n: 1 }, 1)).rejects.toThrow();
    await redis.server.start();
    await expect.poll(() => l.connected, { timeout: 10_000 }).toBe(true);
    expect((await mailbox.enqueue(cmd, limits)).ok).toBe(true);
    expect(await retained.set('t', { n: 1 }, 1)).toBe('stored');
  }, 30_000);
});
