/**
 * Two gateway processes (dist/cli.js) sharing state through a real
 * redis-server, behind a real haproxy in TCP mode, all on free loopback
 * ports and ended by PID: client-id takeover across nodes, device-to-device
 * delivery across nodes, a ban made on one node refused on the other, the
 * cluster listing, then kill -9 of one node and a Redis restart, each under
 * a QoS 1 load, with every acknowledged message counted at the back-end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { TestBackend } from '../helpers/backend.js';
import { HaProxy } from '../helpers/haproxy.js';
import { startRedisNode, stopRedisNode, type RedisNode } from '../helpers/redis-nodes.js';
import { withRedis } from '../helpers/with-redis.js';
import { hashPassword } from '../../src/security/scrypt.js';
import { until } from '../helpers/run.js';
import { Redis } from 'ioredis';

const redis = withRedis();
let dir: string;
let backend: TestBackend;
let proxy: HaProxy;
let a: RedisNode;
let b: RedisNode;
const clients: MqttClient[] = [];

function startNode(id: string): Promise<RedisNode> {
  return startRedisNode(id, {
    dir,
    redisUrl: redis.url,
    keyPrefix: 'cluster-test:',
    extra: {
      // Clients without credentials get in anonymous; alice and bob by password.
      listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0, auth: [{ type: 'password', file: join(dir, 'users.json') }], anonymous: true }],
      pools: [{ name: 'ingest', endpoints: [{ url: backend.url }] }],
      routes: [
        { match: { address: 'devices/#' }, target: 'devices' },
        { match: { address: '#' }, pool: 'ingest', request: { method: 'POST', path: '/t/{clientId}' } },
      ],
      commands: { directory: join(dir, id, 'mailbox'), sweepIntervalMs: 500 },
    },
  });
}

async function connect(port: number, clientId: string, extra: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync({ host: '127.0.0.1', port, clientId, reconnectPeriod: 0, connectTimeout: 5000, ...extra });
  clients.push(c);
  return c;
}

async function api(node: RedisNode, path: string, init?: RequestInit): Promise<Response> {
  return fetch(`${node.admin}${path}`, init);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-cluster-'));
  backend = await TestBackend.start();
  const users: Record<string, { password: string }> = {};
  for (const u of ['alice', 'bob']) users[u] = { password: await hashPassword(`${u}-pw`, { N: 1024, r: 8, p: 1 }) };
  writeFileSync(join(dir, 'users.json'), JSON.stringify({ users }));
  [a, b] = await Promise.all([startNode('node-a'), startNode('node-b')]);
  proxy = await HaProxy.start(dir, [a.port, b.port]);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.end(true);
  await proxy?.stop();
  await Promise.all([stopRedisNode(a), stopRedisNode(b)]);
  await backend?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('two nodes sharing state through Redis', () => {
  it('lists both live nodes in the admin API of each', async () => {
    for (const n of [a, b]) {
      await expect
        .poll(async () => ((await (await api(n, '/api/v1/cluster/nodes')).json()) as { nodes: Array<{ id: string }> }).nodes.map((x) => x.id).sort(), {
          timeout: 5000,
        })
        .toEqual(['node-a', 'node-b']);
    }
    const body = (await (await api(a, '/api/v1/cluster/nodes')).json()) as { self: string; backend: string };
    expect(body).toMatchObject({ self: 'node-a', backend: 'redis' });
    expect(await (await api(a, '/metrics')).text()).toContain('thinggate_node_info{node="node-a",backend="redis"} 1');
  });

  it('closes the session on node A when the same client id connects to node B (takeover across nodes)', async () => {
    const first = await connect(a.port, 'dev-takeover', { protocolVersion: 5 });
    const closed = new Promise<number | undefined>((resolve) => {
      first.once('disconnect', (p) => resolve(p.reasonCode));
      first.once('close', () => resolve(undefined));
    });
    await connect(b.port, 'dev-takeover', { protocolVersion: 5 });
    expect(await closed).toBe(0x8e); // Session taken over
    await expect.poll(async () => (await api(a, '/api/v1/devices/dev-takeover')).status, { timeout: 5000 }).toBe(404);
    expect((await api(b, '/api/v1/devices/dev-takeover')).status).toBe(200);
  });

  it('delivers a device-to-device publication from node A to a subscriber on node B', async () => {
    const sub = await connect(b.port, 'dev-sub');
    await sub.subscribeAsync('devices/dev-sub/#', { qos: 1 });
    const got = new Promise<string>((resolve) => sub.on('message', (_t, p) => resolve(p.toString())));
    const pub = await connect(a.port, 'dev-pub');
    await pub.publishAsync('devices/dev-sub/cmd', 'lamp on', { qos: 1 });
    expect(await got).toBe('lamp on');
  });

  it("delivers a command submitted on node A to a device on node B, and A records B's settlement", async () => {
    const dev = await connect(b.port, 'dev-cmd', { protocolVersion: 5 });
    await dev.subscribeAsync('cmd/dev-cmd', { qos: 1 });
    const got = new Promise<{ body: string; correlation: string | undefined }>((resolve) =>
      dev.on('message', (_t, p, packet) => resolve({ body: p.toString(), correlation: packet.properties?.correlationData?.toString() })),
    );
    const submit = (): Promise<Response> =>
      api(a, '/api/v1/devices/dev-cmd/commands', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ payload: { op: 'reboot' }, address: 'cmd/dev-cmd', qos: 1, response: 'none' }),
      });
    // Node B's presence claim is written just after the CONNACK: until then node A does not know the device.
    let res = await submit();
    for (let i = 0; res.status === 404 && i < 50; i++) res = await new Promise((r) => setTimeout(r, 100)).then(submit);
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect(await got).toEqual({ body: JSON.stringify({ op: 'reboot' }), correlation: id });
    await expect
      .poll(async () => ((await (await api(a, `/api/v1/devices/dev-cmd/commands/${id}`)).json()) as { state: string }).state, { timeout: 5000 })
      .toBe('delivered');
  });

  it('refuses on node B a client id node A holds for another principal, and lets the same principal take it over', async () => {
    const as = (user: string): mqtt.IClientOptions => ({ protocolVersion: 5, username: user, password: `${user}-pw` });
    const first = await connect(a.port, 'dev-owned', as('alice'));
    const code = async (extra: mqtt.IClientOptions): Promise<number | string | undefined> => {
      try {
        const c = await connect(b.port, 'dev-owned', extra);
        c.end(true);
        return 'connected';
      } catch (err) {
        return (err as { code?: number }).code;
      }
    };
    // Node A's claim (with its principal) is written just after its CONNACK: wait for it in Redis.
    const r = new Redis(redis.url, { lazyConnect: true });
    await r.connect();
    try {
      await expect.poll(() => r.get('cluster-test:pr:dev-owned'), { timeout: 5000, interval: 50 }).toBe('alice');
    } finally {
      r.disconnect();
    }
    expect(await code(as('bob'))).toBe(0x87); // Not authorized
    expect(await code({ protocolVersion: 5 })).toBe(0x87); // anonymous is another identity too
    const closed = new Promise<number | undefined>((resolve) => first.once('disconnect', (p) => resolve(p.reasonCode)));
    await connect(b.port, 'dev-owned', as('alice'));
    expect(await closed).toBe(0x8e); // Session taken over, by the same principal
  });

  it('refuses on node B a client id banned through node A', async () => {
    const res = await api(a, '/api/v1/bans', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'clientId', value: 'dev-evil', reason: 'cluster test' }),
    });
    expect(res.status).toBe(201);
    await expect
      .poll(
        async () => {
          try {
            const c = await connect(b.port, 'dev-evil', { protocolVersion: 5 });
            c.end(true);
            return 'connected';
          } catch (err) {
            return (err as { code?: number }).code;
          }
        },
        { timeout: 5000, interval: 200 },
      )
      .toBe(0x8a); // Banned
  });
});

/** Devices publishing QoS 1 through haproxy, each message's payload unique; `acked` holds those PUBACKed. */
function load(count: number): { acked: Set<string>; stop(): Promise<void>; devices: MqttClient[] } {
  const acked = new Set<string>();
  const devices: MqttClient[] = [];
  let running = true;
  const loops: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const c = mqtt.connect({ host: '127.0.0.1', port: proxy.port, clientId: `load-${i}`, reconnectPeriod: 100, connectTimeout: 3000 });
    c.on('error', () => {});
    devices.push(c);
    clients.push(c);
    loops.push(
      (async () => {
        for (let seq = 0; running; seq++) {
          const payload = `load-${i}:${seq}`;
          try {
            await c.publishAsync('telemetry/load', payload, { qos: 1 });
            acked.add(payload);
          } catch {
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      })(),
    );
  }
  return {
    acked,
    devices,
    async stop() {
      running = false;
      // A publish in flight resolves once a node acknowledged it (mqtt.js resends it after a reconnect).
      await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 10_000))]);
      for (const d of devices) d.end(true);
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function received(): Set<string> {
  return new Set(backend.requests.map((r) => r.body.toString()));
}

describe('failures under a QoS 1 load through haproxy', () => {
  it('loses no acknowledged message when Redis restarts mid-load', async () => {
    const l = load(6);
    // Waits on progress rather than a fixed time, so a loaded host only makes it slower.
    await until(() => l.acked.size >= 20, 15_000);
    await redis.server.stop(); // kill -9
    const during = l.acked.size;
    await sleep(800);
    await redis.server.start();
    await until(() => l.acked.size >= during + 20, 15_000); // the load went on through the outage
    await l.stop();
    const seen = received();
    expect([...l.acked].filter((p) => !seen.has(p))).toEqual([]);
    // Shared again: both nodes beat into the restarted Redis.
    await expect.poll(async () => ((await (await api(a, '/api/v1/cluster/nodes')).json()) as { nodes: unknown[] }).nodes.length, { timeout: 5000 }).toBe(2);
  }, 30_000);

  it('loses no acknowledged message when one node is killed with kill -9: its devices reconnect through haproxy to the other', async () => {
    const l = load(8);
    await until(() => l.acked.size >= 20, 15_000);
    process.kill(a.run.child.pid!, 'SIGKILL');
    await a.run.exited;
    const after = l.acked.size;
    await until(() => l.acked.size >= after + 20, 15_000); // the load went on through the other node
    await l.stop();
    const seen = received();
    expect([...l.acked].filter((p) => !seen.has(p))).toEqual([]);
    // The dead node's heartbeat lapses: only node-b remains listed.
    await expect
      .poll(async () => ((await (await api(b, '/api/v1/cluster/nodes')).json()) as { nodes: Array<{ id: string }> }).nodes.map((n) => n.id), {
        timeout: 5000,
      })
      .toEqual(['node-b']);
  }, 30_000);
});
