/**
 * `thinggate start --workers 2` as a real process with a real redis-server:
 * both workers take connections on the one MQTT port, the one admin port
 * aggregates their metrics and lists them, and the embedded backend with
 * several workers is refused rather than silently split.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { TestBackend } from '../helpers/backend.js';
import { freePort } from '../helpers/redis-server.js';
import { withRedis } from '../helpers/with-redis.js';
import { startCli } from '../helpers/cli-process.js';

const redis = withRedis();
let dir: string;
let backend: TestBackend;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-workers-'));
  backend = await TestBackend.start();
});

afterAll(async () => {
  await backend?.close();
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(name: string, extra: Record<string, unknown>, port: number, admin: number): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    JSON.stringify({
      listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port }],
      pools: [{ name: 'ingest', endpoints: [{ url: backend.url }] }],
      routes: [{ match: { address: '#' }, pool: 'ingest', request: { method: 'POST', path: '/t/{clientId}' } }],
      admin: { host: '127.0.0.1', port: admin },
      guard: { stateDir: join(dir, 'state') },
      ...extra,
    }),
  );
  return file;
}

describe('thinggate start --workers', () => {
  it('runs two workers on one port, with one admin endpoint aggregating their metrics', async () => {
    const port = await freePort();
    const admin = await freePort();
    const file = writeConfig(
      'redis.json',
      { state: { backend: 'redis', url: redis.url, keyPrefix: 'workers-test:', heartbeatMs: 200, nodeTtlMs: 1500 } },
      port,
      admin,
    );
    const p = startCli(file, ['--workers', '2']);
    const clients: MqttClient[] = [];
    try {
      await expect.poll(() => p.lines.filter((l) => /^worker \d started$/.test(String(l.msg))).length, { timeout: 80_000, interval: 200 }).toBe(2);
      for (let i = 0; i < 8; i++) {
        const c = await mqtt.connectAsync({ host: '127.0.0.1', port, clientId: `w-${i}`, reconnectPeriod: 0 });
        clients.push(c);
        await c.publishAsync('telemetry/x', `m${i}`, { qos: 1 });
      }
      expect(backend.requests.filter((r) => r.url.startsWith('/t/w-')).length).toBe(8);
      const workers = (await (await fetch(`http://127.0.0.1:${admin}/api/v1/workers`)).json()) as { workers: unknown[] };
      expect(workers.workers).toHaveLength(2);
      const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
      const infos = metrics.split('\n').filter((l) => l.startsWith('thinggate_node_info{'));
      expect(infos).toHaveLength(2); // one series per worker, each named -w1 / -w2
      const connections = metrics.split('\n').find((l) => l.startsWith('thinggate_downstream_connections{'));
      expect(Number(connections?.split(' ').at(-1))).toBe(8); // summed over both workers
      // Round-robin accept: both workers hold some of the connections.
      await expect
        .poll(
          async () => {
            const n = (await (await fetch(`http://127.0.0.1:${admin}/api/v1/cluster/nodes`)).json()) as { nodes: Array<{ info: { devices: number } }> };
            return n.nodes.map((x) => x.info.devices).sort();
          },
          { timeout: 5000 },
        )
        .toEqual([4, 4]);
    } finally {
      for (const c of clients) c.end(true);
      p.child.kill('SIGTERM');
    }
    expect(await p.exited).toBe(0);
  }, 150_000);

  it('refuses several workers with the embedded backend, naming what would not be shared', async () => {
    const file = writeConfig('embedded.json', {}, await freePort(), await freePort());
    const p = startCli(file, ['--workers', '2']);
    expect(await p.exited).toBe(2);
    expect(p.stderr()).toContain("--workers: several workers need /state/backend 'redis'");
  }, 30_000);
});
