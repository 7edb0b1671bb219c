/**
 * Device state shared by two gateway processes (dist/cli.js) through a real
 * redis-server: a command queued through node A's API is delivered to its
 * device connecting to node B (one mailbox in Redis); a persistent session
 * parked by node A collects a message published on node B and is resumed
 * on node B (Session Present 1, the message delivered); a retained message
 * published on node A reaches a new subscriber on node B. A node whose Redis
 * does not answer starts anyway and refuses what it cannot keep.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { Redis } from 'ioredis';
import { freePort } from '../helpers/redis-server.js';
import { startRedisNode, stopRedisNode, type RedisNode } from '../helpers/redis-nodes.js';
import { withRedis } from '../helpers/with-redis.js';

const redis = withRedis();
let dir: string;
let a: RedisNode;
let b: RedisNode;
const clients: MqttClient[] = [];

function startNode(id: string, redisUrl = redis.url): Promise<RedisNode> {
  return startRedisNode(id, {
    dir,
    redisUrl,
    keyPrefix: 'device-state:',
    extra: {
      routes: [
        { match: { address: 'devices/#' }, target: 'devices' },
        { match: { address: '#' }, pool: 'default' },
      ],
      commands: { unseenDevices: ['field-*'] },
    },
  });
}

async function connect(port: number, clientId: string, extra: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync({ host: '127.0.0.1', port, clientId, reconnectPeriod: 0, connectTimeout: 5000, ...extra });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-device-state-'));
  [a, b] = await Promise.all([startNode('node-a'), startNode('node-b')]);
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.end(true);
  await Promise.all([stopRedisNode(a), stopRedisNode(b)]);
  rmSync(dir, { recursive: true, force: true });
});

describe('device state shared by two nodes through Redis', () => {
  it('delivers a command queued on node A to its device connecting to node B', async () => {
    const res = await fetch(`${a.admin}/api/v1/devices/field-7/commands`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payload: { lamp: 'on' }, address: 'cmd/field-7' }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const dev = await connect(b.port, 'field-7', { protocolVersion: 5 });
    const got = new Promise<string>((resolve) => dev.on('message', (_t, p) => resolve(p.toString())));
    await dev.subscribeAsync('cmd/field-7', { qos: 1 });
    expect(JSON.parse(await got)).toEqual({ lamp: 'on' });
    // One mailbox: node A's API reads the state node B wrote.
    await expect
      .poll(async () => ((await (await fetch(`${a.admin}/api/v1/devices/field-7/commands/${id}`)).json()) as { state: string }).state, { timeout: 10_000 })
      .toBe('delivered');
    await dev.endAsync();
  });

  it('resumes on node B a persistent session parked by node A, with the message queued meanwhile', async () => {
    const opts = { protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 60 } };
    const first = await connect(a.port, 'roamer', opts);
    await first.subscribeAsync('devices/roamer/#', { qos: 1 });
    await first.endAsync();
    await expect.poll(async () => (await fetch(`${a.admin}/api/v1/devices/roamer`)).status, { timeout: 5000 }).toBe(404);
    const direct = new Redis(redis.url);
    try {
      await expect.poll(() => direct.exists('device-state:sess:roamer'), { timeout: 5000 }).toBe(1);
      // Published through node B: node A's parked session queues it in Redis (its subscriptions live on node A).
      const pub = await connect(b.port, 'roamer-pub');
      await pub.publishAsync('devices/roamer/cmd', 'while-away', { qos: 1 });
      await expect.poll(() => direct.llen('device-state:sess-q:roamer'), { timeout: 5000 }).toBe(1);
    } finally {
      direct.disconnect();
    }
    const got: string[] = [];
    const second = mqtt.connect(`mqtt://127.0.0.1:${b.port}`, { ...opts, clientId: 'roamer', reconnectPeriod: 0 });
    clients.push(second);
    second.on('message', (_t, p) => got.push(p.toString()));
    const connack = await new Promise<mqtt.IConnackPacket>((resolve) => second.once('connect', resolve));
    expect(connack.sessionPresent).toBe(true);
    await expect.poll(() => got[0], { timeout: 10_000 }).toBe('while-away');
    // The subscription came with the session: a new message, published on node A, reaches the client on node B once.
    const pub = await connect(a.port, 'roamer-pub-2');
    await pub.publishAsync('devices/roamer/cmd', 'after', { qos: 1 });
    await expect.poll(() => got.includes('after'), { timeout: 10_000 }).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual(['while-away', 'after']);
  });

  it('sends a retained message published on node A to a new subscriber on node B', async () => {
    const pub = await connect(a.port, 'lamp-pub');
    await pub.publishAsync('devices/status/lamp', 'lit', { qos: 1, retain: true });
    await expect
      .poll(
        async () => {
          const sub = await connect(b.port, `lamp-sub-${clients.length}`);
          const got = new Promise<string | undefined>((resolve) => {
            sub.once('message', (_t, p) => resolve(p.toString()));
            setTimeout(() => resolve(undefined), 500);
          });
          await sub.subscribeAsync('devices/status/#', { qos: 1 });
          const v = await got;
          await sub.endAsync();
          return v;
        },
        { timeout: 10_000 },
      )
      .toBe('lit');
  });
});

describe('a node whose Redis does not answer', () => {
  it('starts, serves clean sessions, and refuses commands (503) and session resumption (0x88) instead of losing them', async () => {
    const dead = await startNode('node-dead', `redis://127.0.0.1:${await freePort()}`);
    try {
      const res = await fetch(`${dead.admin}/api/v1/devices/field-9/commands`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ payload: 'x', address: 'cmd/field-9' }),
      });
      expect(res.status).toBe(503);
      const clean = await connect(dead.port, 'clean-one', { protocolVersion: 5 });
      expect(clean.connected).toBe(true);
      await expect(
        mqtt.connectAsync({
          host: '127.0.0.1',
          port: dead.port,
          clientId: 'resumer',
          protocolVersion: 5,
          clean: false,
          reconnectPeriod: 0,
          properties: { sessionExpiryInterval: 60 },
        }),
      ).rejects.toMatchObject({ code: 0x88 });
    } finally {
      await stopRedisNode(dead);
    }
  }, 120_000);
});
