/**
 * The decrypted mirror: a route's messages copied to a JSON-lines file,
 * filtered by client id and redacted; a mirror that cannot write drops and
 * counts its copies while the main path delivers every message.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { TestBackend } from '../helpers/backend.js';
import { until } from '../helpers/run.js';

let dir: string;
let backend: TestBackend;
let gw: TestGateway;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-mirror-'));
  backend = await TestBackend.start();
  gw = await startGateway(
    {
      listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
      pools: [{ name: 'default', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
      routes: [
        { name: 'tapped', match: { address: 'tap/#' }, pool: 'default', mirror: { file: 'tap.jsonl', clientIds: ['dev-1'], redactHeaders: ['x-secret'] } },
        { name: 'broken', match: { address: 'broken/#' }, pool: 'default', mirror: { file: 'no-such-dir/tap.jsonl', queue: 2 } },
      ],
    },
    { baseDir: dir },
  );
});
afterAll(async () => {
  await gw?.stop();
  await backend?.close();
  rmSync(dir, { recursive: true, force: true });
});

const lines = (): Array<Record<string, unknown>> => {
  try {
    return readFileSync(join(dir, 'tap.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
};

async function counter(name: string, route: string): Promise<number> {
  const m = gw.gateway.metrics.registry.getSingleMetric(name);
  return ((await m?.get())?.values ?? []).filter((v) => v.labels.route === route).reduce((n, v) => n + v.value, 0);
}

it("copies the chosen client's messages with redacted headers, and only those", async () => {
  const one = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port('mqtt')}`, { clientId: 'dev-1', protocolVersion: 5, reconnectPeriod: 0 });
  const two = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port('mqtt')}`, { clientId: 'dev-2', protocolVersion: 5, reconnectPeriod: 0 });
  try {
    const n = backend.requests.length;
    await one.publishAsync('tap/a', '{"v":1}', { qos: 1, properties: { userProperties: { 'x-secret': 'hunter2', 'x-ok': 'shown' } } });
    await two.publishAsync('tap/b', '{"v":2}', { qos: 1 });
    await backend.waitFor(n + 2);
    await until(() => lines().length === 1);
    const [copy] = lines();
    expect(copy).toMatchObject({ route: 'tapped', clientId: 'dev-1', address: 'tap/a', headers: { 'x-secret': '[redacted]', 'x-ok': 'shown' } });
    expect(Buffer.from(String(copy!.payload), 'base64').toString()).toBe('{"v":1}');
  } finally {
    await one.endAsync();
    await two.endAsync();
  }
});

it('drops and counts copies it cannot write while every message is delivered', async () => {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port('mqtt')}`, { clientId: 'dev-3', protocolVersion: 5, reconnectPeriod: 0 });
  try {
    const n = backend.requests.length;
    await Promise.all(Array.from({ length: 20 }, (_, i) => c.publishAsync(`broken/${i}`, 'x', { qos: 1 })));
    await backend.waitFor(n + 20);
    await until(async () => (await counter('thinggate_guard_mirror_dropped_total', 'broken')) === 20);
    expect(await counter('thinggate_guard_mirror_messages_total', 'broken')).toBe(0);
  } finally {
    await c.endAsync();
  }
});
