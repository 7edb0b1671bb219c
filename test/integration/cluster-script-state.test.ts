/**
 * Script `ctx.state` shared between gateway processes (dist/cli.js) through
 * one redis-server: a value a script sets on node A is read by the same
 * script on node B; concurrent writers on both nodes end with both replicas
 * equal to Redis; a node started later loads what is stored; after Redis is
 * restarted, writes flow again and both nodes agree with it. With
 * `scripts.state.shared: false` each node keeps its own.
 *
 * The script stores `st/set/<key>` payloads, deletes on `st/del/<key>`, and
 * answers `st/get/<key>` by posting what it reads to the back-end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { Redis } from 'ioredis';
import { RedisServer } from '../helpers/redis-server.js';
import { startRedisNode, stopRedisNode, type RedisNode } from '../helpers/redis-nodes.js';
import { TestBackend } from '../helpers/backend.js';

const PREFIX = 'sstate-cluster:';
const SCRIPT = `export function onMessage(msg, ctx) {
  const [, op, key] = msg.address.split('/');
  if (op === 'set') { ctx.state.set(key, msg.text()); return drop('stored'); }
  if (op === 'del') { ctx.state.delete(key); return drop('deleted'); }
  return route(undefined, { path: '/got/' + key, body: { value: ctx.state.get(key) ?? null } });
}
`;

let dir: string;
let redis: RedisServer;
let direct: Redis;
let backend: TestBackend;
const nodes: RedisNode[] = [];
const clients: MqttClient[] = [];

function startNode(id: string, shared?: boolean): Promise<RedisNode> {
  return startRedisNode(id, {
    dir,
    redisUrl: redis.url,
    keyPrefix: PREFIX,
    extra: {
      pools: [{ name: 'default', endpoints: [{ url: backend.url }] }],
      routes: [{ match: { address: 'st/#' }, script: 'state.js', pool: 'default' }],
      ...(shared !== undefined && { scripts: { state: { shared } } }),
    },
  }).then((n) => (nodes.push(n), n));
}

async function client(node: RedisNode, id: string): Promise<MqttClient> {
  const c = mqtt.connect(`mqtt://127.0.0.1:${node.port}`, { clientId: id, protocolVersion: 5, reconnectPeriod: 200 });
  clients.push(c);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

async function send(c: MqttClient, topic: string, payload = ''): Promise<void> {
  await c.publishAsync(topic, payload, { qos: 1 });
}

/** What the script on this client's node reads for `key` now. */
async function read(c: MqttClient, key: string): Promise<string | null> {
  const before = backend.requests.length;
  await send(c, `st/get/${key}`);
  await backend.waitFor(before + 1);
  const r = backend.requests.slice(before).find((q) => q.url === `/got/${key}`)!;
  return (JSON.parse(r.body.toString()) as { value: string | null }).value;
}

/** Reads until the script reads `want` (replication is asynchronous: a bus round trip). */
async function readUntil(c: MqttClient, key: string, want: string | null, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let got: string | null = null;
  while (Date.now() < end) {
    got = await read(c, key);
    if (got === want) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`read ${JSON.stringify(got)} for ${key}, wanted ${JSON.stringify(want)}`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-cluster-sstate-'));
  writeFileSync(join(dir, 'state.js'), SCRIPT);
  redis = await RedisServer.start();
  direct = new Redis(redis.url);
  backend = await TestBackend.start();
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.end(true);
  direct?.disconnect();
  await Promise.all(nodes.map((n) => stopRedisNode(n)));
  await backend?.close();
  await redis?.stop('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

describe('shared ctx.state across nodes', () => {
  let a: RedisNode;
  let b: RedisNode;
  let onA: MqttClient;
  let onB: MqttClient;

  beforeAll(async () => {
    [a, b] = await Promise.all([startNode('node-a'), startNode('node-b')]);
    [onA, onB] = await Promise.all([client(a, 'dev-a'), client(b, 'dev-b')]);
  }, 120_000);

  it('a value set by the script on node A is read by the script on node B, and a delete follows', async () => {
    await send(onA, 'st/set/k1', 'v1');
    expect(await read(onA, 'k1')).toBe('v1'); // node A reads its own write at once
    await readUntil(onB, 'k1', 'v1');
    expect(await direct.hget(`${PREFIX}sstate:state.js`, 'k1')).toBe('"v1"');
    await send(onB, 'st/del/k1');
    await readUntil(onA, 'k1', null);
    expect(await direct.hexists(`${PREFIX}sstate:state.js`, 'k1')).toBe(0);
  });

  it('concurrent writers on both nodes end with both replicas equal to Redis', async () => {
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < 30; i++) {
      writes.push(send(onA, 'st/set/race', `a${i}`));
      writes.push(send(onB, 'st/set/race', `b${i}`));
    }
    await Promise.all(writes);
    const stored = async (): Promise<string> => JSON.parse((await direct.hget(`${PREFIX}sstate:state.js`, 'race'))!) as string;
    let want = await stored();
    // Settled once both read what Redis holds (which no longer moves: every write was acknowledged).
    await readUntil(onA, 'race', want);
    await readUntil(onB, 'race', want);
    want = await stored();
    expect([await read(onA, 'race'), await read(onB, 'race')]).toEqual([want, want]);
  });

  it('a node started later loads what is stored', async () => {
    await send(onA, 'st/set/early', 'before-c');
    await readUntil(onB, 'early', 'before-c');
    const c = await startNode('node-c');
    const onC = await client(c, 'dev-c');
    await readUntil(onC, 'early', 'before-c');
    await stopRedisNode(c);
  }, 120_000);

  it('after Redis restarts, writes flow again and both nodes agree with it', async () => {
    await redis.stop('SIGKILL');
    await redis.start();
    direct.disconnect();
    direct = new Redis(redis.url);
    // The restarted Redis is empty (no persistence here): both replicas reload it, then the writes flow again.
    await readUntil(onA, 'early', null, 15_000);
    await readUntil(onB, 'early', null, 15_000);
    await send(onB, 'st/set/after', 'restart');
    await readUntil(onA, 'after', 'restart', 15_000);
    expect(await direct.hget(`${PREFIX}sstate:state.js`, 'after')).toBe('"restart"');
  }, 60_000);
});

describe('scripts.state.shared: false', () => {
  it('keeps each node its own ctx.state on the redis backend', async () => {
    await direct.del(`${PREFIX}sstate:state.js`);
    const [x, y] = await Promise.all([startNode('node-x', false), startNode('node-y', false)]);
    const [onX, onY] = await Promise.all([client(x, 'dev-x'), client(y, 'dev-y')]);
    await send(onX, 'st/set/local', 'only-x');
    expect(await read(onX, 'local')).toBe('only-x');
    // Node Y answers for its own state, now and after a bus round trip's worth of time.
    await new Promise((r) => setTimeout(r, 500));
    expect(await read(onY, 'local')).toBe(null);
    expect(await direct.exists(`${PREFIX}sstate:state.js`)).toBe(0);
    await Promise.all([stopRedisNode(x), stopRedisNode(y)]);
  }, 120_000);
});
