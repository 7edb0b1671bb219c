/**
 * Southbound commands across gateway processes (dist/cli.js) sharing one
 * mailbox in a real redis-server:
 * - each command queued through node A's API for a device connected to node
 *   B is sent to the device exactly once, whether the device was connected
 *   when it was queued or connected afterwards (node A's remote round and
 *   node B's own drain race for every command; the claim decides);
 * - a `sync` command queued on node A and answered by its device on node B
 *   returns the answer to node A's caller as soon as it comes;
 * - a node starting on the shared mailbox leaves a command another live node
 *   sent alone (no second delivery), and queues again one whose sender died.
 * Every PUBLISH is counted at the device's own MQTT client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { Redis } from 'ioredis';
import { startRedisNode, stopRedisNode, type RedisNode } from '../helpers/redis-nodes.js';
import { withRedis } from '../helpers/with-redis.js';
import { RawClient } from './mqtt-support.js';

const PREFIX = 'cmd-cluster:';
/** Commands per burst: enough that the two nodes' rounds overlap many times. */
const N = 40;

const redis = withRedis();
let dir: string;
let direct: Redis;
let a: RedisNode;
let b: RedisNode;
const clients: MqttClient[] = [];
const raws: RawClient[] = [];

function startNode(id: string): Promise<RedisNode> {
  return startRedisNode(id, {
    dir,
    redisUrl: redis.url,
    keyPrefix: PREFIX,
    // A sweep every 20 ms: each node keeps trying the devices with queued commands, wherever they are.
    extra: { commands: { unseenDevices: ['field-*'], sweepIntervalMs: 20 } },
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-cluster-commands-'));
  direct = new Redis(redis.url);
  [a, b] = await Promise.all([startNode('node-a'), startNode('node-b')]);
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.end(true);
  for (const r of raws) r.socket.destroy();
  direct?.disconnect();
  await Promise.all([stopRedisNode(a), stopRedisNode(b)]);
  rmSync(dir, { recursive: true, force: true });
});

async function post(node: RedisNode, clientId: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${node.admin}/api/v1/devices/${clientId}/commands`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** Queues c0 … c39 one after the other, so the mailbox holds them in that order. */
async function queueMany(node: RedisNode, clientId: string): Promise<void> {
  for (let i = 0; i < N; i++) {
    const r = await post(node, clientId, { payload: `c${i}`, encoding: 'text', address: `cmd/${clientId}` });
    expect(r.status).toBe(202);
  }
}

async function states(node: RedisNode, clientId: string): Promise<string[]> {
  const res = await fetch(`${node.admin}/api/v1/devices/${clientId}/commands?limit=1000`);
  return ((await res.json()) as { commands: Array<{ state: string }> }).commands.map((c) => c.state);
}

/** A device on `port` subscribed to its command topic, counting every PUBLISH it gets by payload (`seen`), in arrival order (`order`). */
async function device(port: number, clientId: string): Promise<Map<string, number> & { readonly order: string[] }> {
  const c = await mqtt.connectAsync({ host: '127.0.0.1', port, clientId, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 });
  clients.push(c);
  const seen = Object.assign(new Map<string, number>(), { order: [] as string[] });
  c.on('message', (_t, p) => {
    seen.set(p.toString(), (seen.get(p.toString()) ?? 0) + 1);
    seen.order.push(p.toString());
  });
  await c.subscribeAsync(`cmd/${clientId}`, { qos: 1 });
  return seen;
}

/** Waits until every command is delivered, then a little longer, for a second copy to show. */
async function settle(clientId: string, seen: Map<string, number>): Promise<void> {
  await expect.poll(() => states(a, clientId), { timeout: 20_000 }).toEqual(Array(N).fill('delivered'));
  await expect.poll(() => seen.size, { timeout: 5000 }).toBe(N);
  await new Promise((r) => setTimeout(r, 500));
}

/** The node that sent each of the device's commands, read from the shared records. */
async function senders(node: RedisNode, clientId: string): Promise<Array<string | undefined>> {
  const res = await fetch(`${node.admin}/api/v1/devices/${clientId}/commands?limit=1000`);
  const ids = ((await res.json()) as { commands: Array<{ id: string }> }).commands.map((c) => c.id);
  return Promise.all(ids.map(async (id) => (JSON.parse((await direct.get(`${PREFIX}mb:r:${id}`))!) as { sentBy?: string }).sentBy));
}

const once = (): Map<string, number> => new Map(Array.from({ length: N }, (_, i) => [`c${i}`, 1]));
const inOrder = (): string[] => Array.from({ length: N }, (_, i) => `c${i}`);

describe('commands across two nodes sharing a Redis mailbox', () => {
  it('sends each command queued on node A exactly once to its device connected to node B', async () => {
    const seen = await device(b.port, 'field-on');
    // Presence must place the device on node B before node A queues, or node A would leave the commands to node B alone.
    await expect.poll(() => direct.exists(`${PREFIX}dev:field-on`), { timeout: 5000 }).toBe(1);
    await queueMany(a, 'field-on');
    await settle('field-on', seen);
    expect(new Map(seen)).toEqual(once());
    // Node B alone hands the device its commands (node A asks it to drain): they arrive in mailbox order.
    expect(seen.order).toEqual(inOrder());
    expect(new Set(await senders(a, 'field-on'))).toEqual(new Set([b.id]));
  });

  it('sends each command queued on node A while its device was offline exactly once when it connects to node B', async () => {
    await queueMany(a, 'field-late');
    const seen = await device(b.port, 'field-late');
    await settle('field-late', seen);
    expect(new Map(seen)).toEqual(once());
    expect(seen.order).toEqual(inOrder());
  });

  it("returns a device's answer on node B to the sync caller on node A as soon as it comes", async () => {
    const dev = await mqtt.connectAsync({ host: '127.0.0.1', port: b.port, clientId: 'field-rr', protocolVersion: 5, reconnectPeriod: 0 });
    clients.push(dev);
    dev.on('message', (_t, payload, packet) => {
      const p = packet.properties!;
      void dev.publishAsync(p.responseTopic!, `echo ${payload.toString()}`, { qos: 1, properties: { correlationData: p.correlationData! } });
    });
    await dev.subscribeAsync('cmd/field-rr', { qos: 1 });
    await expect.poll(() => direct.exists(`${PREFIX}dev:field-rr`), { timeout: 5000 }).toBe(1);
    const started = Date.now();
    // Without word from node B, node A would answer only once the timeout passed (reading the record then).
    const res = await post(a, 'field-rr', { payload: 'ping', encoding: 'text', address: 'cmd/field-rr', response: 'sync', timeoutMs: 20_000 });
    const elapsed = Date.now() - started;
    expect(res.status).toBe(200);
    const body = (await res.json()) as { state: string; deviceResponse: { text: string } };
    expect(body.state).toBe('responded');
    expect(body.deviceResponse.text).toBe('echo ping');
    expect(elapsed).toBeLessThan(10_000);
  });

  it('leaves a command another live node sent alone when a node starts, and queues it again once its sender died', async () => {
    // A device that never acknowledges: the command stays sent, awaited by the node that sent it.
    const raw = await RawClient.connected(b.port, 5, 'field-mute');
    raws.push(raw);
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'cmd/field-mute', qos: 1 }] });
    await raw.next('suback');
    const res = await post(b, 'field-mute', { payload: 'once', encoding: 'text', address: 'cmd/field-mute', qos: 1 });
    const { id } = (await res.json()) as { id: string };
    const publishes = (): number => raw.packets.filter((p) => p.cmd === 'publish').length;
    await expect.poll(publishes, { timeout: 10_000 }).toBe(1);
    const record = async (): Promise<{ state: string; sentBy?: string }> => JSON.parse((await direct.get(`${PREFIX}mb:r:${id}`))!);
    const sender = (await record()).sentBy;
    expect(['node-a', 'node-b']).toContain(sender);
    expect((await record()).state).toBe('sent');

    const c = await startNode('node-c');
    try {
      // Node C's start, and every node's sweep meanwhile: nothing requeues it, nothing sends it again.
      await new Promise((r) => setTimeout(r, 1000));
      expect((await record()).state).toBe('sent');
      expect(publishes()).toBe(1);

      // Its sender dies (a crash: its heartbeat lapses); node C restarting now queues it again.
      const dead = sender === 'node-a' ? a : b;
      await stopRedisNode(dead, 'SIGKILL');
      await stopRedisNode(c);
      const survivor = dead === a ? b : a;
      const nodes = async (): Promise<string[]> =>
        ((await (await fetch(`${survivor.admin}/api/v1/cluster/nodes`)).json()) as { nodes: Array<{ id: string }> }).nodes.map((n) => n.id);
      await expect.poll(nodes, { timeout: 10_000 }).not.toContain(dead.id);
      const c2 = await startNode('node-c');
      try {
        // Queued again (and maybe sent again, by the survivor to a device still connected there): no longer the dead node's.
        await expect.poll(async () => (await record()).state === 'queued' || (await record()).sentBy !== dead.id, { timeout: 10_000 }).toBe(true);
      } finally {
        await stopRedisNode(c2);
      }
    } finally {
      await stopRedisNode(c);
    }
  }, 120_000);
});
