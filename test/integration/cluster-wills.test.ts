/**
 * MQTT 5 delayed Wills (§3.1.3.2.2) and persistent sessions of a node that
 * died, with two gateway processes (dist/cli.js) sharing a real
 * redis-server: a device with a delayed Will connected to node A, node A
 * killed with `kill -9` (or stopped cleanly); node B publishes the Will
 * once its delay has passed, once; a device that reconnects (to node B)
 * before then has no Will published [MQTT-3.1.3-9]; a dead node's session
 * is removed from Redis once its expiry passes, its Will published then;
 * node A restarted alone publishes the Will its previous process left.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Redis } from 'ioredis';
import { RedisServer } from '../helpers/redis-server.js';
import { startRedisNode, stopRedisNode, type RedisNode } from '../helpers/redis-nodes.js';

const PREFIX = 'wills:';
/** Each test kills and starts gateway processes, which a loaded host (the full suite on 2 cores) makes slow. */
const TEST_MS = 180_000;
let dir: string;
let redis: RedisServer;
let direct: Redis;
let a: RedisNode | undefined;
let b: RedisNode | undefined;
const clients: MqttClient[] = [];

const start = (id: string): Promise<RedisNode> =>
  startRedisNode(id, {
    dir,
    redisUrl: redis.url,
    keyPrefix: PREFIX,
    extra: { routes: [{ match: { address: 'devices/#' }, target: 'devices' }] },
  });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-cluster-wills-'));
  redis = await RedisServer.start();
  direct = new Redis(redis.url);
  [a, b] = await Promise.all([start('node-a'), start('node-b')]);
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.end(true);
  direct?.disconnect();
  await Promise.all([stopRedisNode(a), stopRedisNode(b)]);
  await redis?.stop('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

async function connect(port: number, clientId: string, extra: IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync({ host: '127.0.0.1', port, clientId, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10_000, ...extra });
  clients.push(c);
  return c;
}

/** A device with a persistent session and a Will on `devices/<id>/will` delayed `delay` seconds. */
function device(port: number, id: string, delay: number, expiry = 60, retain = false): Promise<MqttClient> {
  return connect(port, id, {
    clean: false,
    properties: { sessionExpiryInterval: expiry },
    will: { topic: `devices/${id}/will`, payload: Buffer.from(`${id} gone`), qos: 1, retain, properties: { willDelayInterval: delay } },
  });
}

/** The Wills of `id` a subscriber on `port` receives, with their arrival times. */
async function watch(port: number, id: string): Promise<Array<{ at: number; payload: string }>> {
  const got: Array<{ at: number; payload: string }> = [];
  const sub = await connect(port, `watch-${id}`);
  sub.on('message', (_t, p) => got.push({ at: Date.now(), payload: p.toString() }));
  await sub.subscribeAsync(`devices/${id}/will`, { qos: 1 });
  return got;
}

/** Resolves once node A has written the device's session through to Redis, held by it. */
async function heldByA(id: string): Promise<void> {
  await expect.poll(() => direct.hget(`${PREFIX}sess:${id}`, 'node'), { timeout: 10_000 }).toBe('node-a');
}

async function killA(): Promise<number> {
  await stopRedisNode(a, 'SIGKILL');
  a = undefined;
  return Date.now();
}

/** Nothing of the device's Will is left in Redis for any node to publish. */
async function willGone(id: string): Promise<void> {
  expect(await direct.zscore(`${PREFIX}will-due`, id)).toBeNull();
  expect(await direct.hget(`${PREFIX}sess:${id}`, 'will')).toBeNull();
}

/** The Will went out once: nothing of it is left in Redis, and no later sweep (of any node) publishes it again. */
async function once(got: unknown[], id: string): Promise<void> {
  await willGone(id);
  await settle();
  expect(got).toHaveLength(1);
}

/** A log line saying that a node adopted held sessions (`own`: its previous process's). */
const adopted =
  (own: boolean) =>
  (l: Record<string, unknown>): boolean =>
    typeof l.msg === 'string' && l.msg.startsWith('adopted') && l.own === own;

/** Two sweeps (one a second) of a node after `ms` more. */
const settle = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms + 2500));

describe('delayed Wills of a node that died', () => {
  it(
    'are published by another node once their delay has passed, once',
    async () => {
      const got = await watch(b!.port, 'w-kill');
      await device(a!.port, 'w-kill', 2);
      await heldByA('w-kill');
      const killedAt = await killA();
      await expect.poll(() => got.length, { timeout: 30_000 }).toBe(1);
      expect(got[0]!.payload).toBe('w-kill gone');
      expect(got[0]!.at - killedAt).toBeGreaterThanOrEqual(2000);
      await b!.run.waitLog((l) => l.msg === 'will message delivered' && l.clientId === 'w-kill');
      await once(got, 'w-kill');
      a = await start('node-a');
    },
    TEST_MS,
  );

  it(
    'are published by another node when the node that parked the session stopped cleanly',
    async () => {
      const got = await watch(b!.port, 'w-stop');
      await device(a!.port, 'w-stop', 3);
      await heldByA('w-stop');
      await stopRedisNode(a); // SIGTERM: the connection is closed and its session stored with its Will
      a = undefined;
      const stoppedAt = Date.now();
      expect(await direct.zscore(`${PREFIX}will-due`, 'w-stop')).not.toBeNull();
      await expect.poll(() => got.length, { timeout: 30_000 }).toBe(1);
      expect(got[0]!.at - stoppedAt).toBeGreaterThanOrEqual(1000);
      await once(got, 'w-stop');
      a = await start('node-a');
    },
    TEST_MS,
  );

  it(
    'are deleted when the device reconnects to another node before the delay',
    async () => {
      const got = await watch(b!.port, 'w-back');
      await device(a!.port, 'w-back', 10);
      await heldByA('w-back');
      const mark = b!.run.lines.length;
      await killA();
      // Node B adopts node A's session (its Will now due in 10 s); the device comes back to node B first.
      await expect.poll(() => b!.run.lines.slice(mark).some(adopted(false)), { timeout: 30_000 }).toBe(true);
      const dueAt = Number(await direct.zscore(`${PREFIX}will-due`, 'w-back'));
      expect(dueAt).toBeGreaterThan(Date.now());
      const again = mqtt.connect(`mqtt://127.0.0.1:${b!.port}`, {
        clientId: 'w-back',
        protocolVersion: 5,
        clean: false,
        properties: { sessionExpiryInterval: 60 },
        reconnectPeriod: 0,
      });
      clients.push(again);
      const connack = await new Promise<mqtt.IConnackPacket>((resolve) => again.once('connect', resolve));
      expect(connack.sessionPresent).toBe(true);
      await willGone('w-back');
      await settle(Math.max(0, dueAt - Date.now()));
      expect(got).toEqual([]);
      a = await start('node-a');
    },
    TEST_MS,
  );

  it(
    "go out when the dead node's session expires first, and the session leaves Redis without its device",
    async () => {
      const got = await watch(b!.port, 'w-expire');
      const dev = await device(a!.port, 'w-expire', 600, 3);
      await dev.subscribeAsync('devices/w-expire/cmd', { qos: 1 });
      await heldByA('w-expire');
      await killA();
      await expect.poll(() => direct.exists(`${PREFIX}sess:w-expire`), { timeout: 30_000 }).toBe(0);
      await expect.poll(() => got.length, { timeout: 10_000 }).toBe(1);
      expect(await direct.zscore(`${PREFIX}sess-exp`, 'w-expire')).toBeNull();
      await once(got, 'w-expire');
      a = await start('node-a');
    },
    TEST_MS,
  );

  it(
    'are published by the same node restarted alone, once',
    async () => {
      await stopRedisNode(b);
      b = undefined;
      // Retained as well: a subscriber arriving after the Will still sees one (and only one) message.
      await device(a!.port, 'w-restart', 5, 60, true);
      await heldByA('w-restart');
      await killA();
      a = await start('node-a');
      expect(a.run.lines.some(adopted(true))).toBe(true);
      const got = await watch(a.port, 'w-restart');
      await expect.poll(() => got.length, { timeout: 30_000 }).toBe(1);
      await a.run.waitLog((l) => l.msg === 'will message delivered' && l.clientId === 'w-restart');
      await once(got, 'w-restart');
    },
    TEST_MS,
  );
});
