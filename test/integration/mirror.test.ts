/**
 * The decrypted mirror: a route's messages copied to a JSON-lines file and to
 * a mirror pool, filtered by client id and redacted; a mirror that cannot
 * write drops and counts its copies while the main path delivers every
 * message, and the copies keep coming while the main pool is down.
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
/** The mirror pool's back-end. */
let tap: TestBackend;
/** A back-end that drops every connection unanswered: a pool that is down (a closed port could be reused by another process). */
let dead: TestBackend;
let gw: TestGateway;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-mirror-'));
  backend = await TestBackend.start();
  tap = await TestBackend.start();
  dead = await TestBackend.start(() => ({ destroy: true }));
  const quick = { retries: { maxAttempts: 1 }, outlierDetection: { enabled: false }, timeoutMs: 1000 };
  gw = await startGateway(
    {
      listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
      pools: [
        { name: 'default', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } },
        { name: 'tap', endpoints: [{ url: tap.url }], ...quick },
        { name: 'down', endpoints: [{ url: dead.url }], ...quick },
      ],
      routes: [
        { name: 'tapped', match: { address: 'tap/#' }, pool: 'default', mirror: { file: 'tap.jsonl', clientIds: ['dev-1'], redactHeaders: ['x-secret'] } },
        { name: 'broken', match: { address: 'broken/#' }, pool: 'default', mirror: { file: 'no-such-dir/tap.jsonl', queue: 2 } },
        {
          name: 'to-down-pool',
          match: { address: 'down/#' },
          pool: 'down',
          mirror: { pool: 'tap', path: '/copies', redactHeaders: ['x-secret'], redactFields: ['/secret', '/nested/token'] },
        },
        { name: 'mirror-down', match: { address: 'mdown/#' }, pool: 'default', mirror: { pool: 'down', queue: 5, batch: 1 } },
      ],
    },
    { baseDir: dir },
  );
});
afterAll(async () => {
  await gw?.stop();
  await backend?.close();
  await tap?.close();
  await dead?.close();
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

async function counter(name: string, route: string, destination?: string): Promise<number> {
  const m = gw.gateway.metrics.registry.getSingleMetric(name);
  return ((await m?.get())?.values ?? [])
    .filter((v) => v.labels.route === route && (destination === undefined || v.labels.destination === destination))
    .reduce((n, v) => n + v.value, 0);
}

/** The JSON lines the mirror pool's back-end received, in order. */
const tapped = (): Array<Record<string, unknown>> =>
  tap.requests.flatMap((r) =>
    r.body
      .toString()
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  );

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

it("sends redacted copies to the mirror pool while the route's own pool is down", async () => {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port('mqtt')}`, { clientId: 'dev-4', protocolVersion: 5, reconnectPeriod: 0 });
  try {
    const before = tapped().length;
    const payload = JSON.stringify({ secret: 's3cr3t', nested: { token: 'tok', keep: 1 }, celsius: 21 });
    const refused = await c.publishAsync('down/1', payload, { qos: 1, properties: { userProperties: { 'x-secret': 'hunter2' } } }).then(
      () => undefined,
      (err: Error & { code?: number }) => err,
    );
    // The device hears that its own pool is unavailable, as without a mirror.
    expect(refused?.code).toBeGreaterThanOrEqual(0x80);
    await until(() => tapped().length > before);
    const copy = tapped().at(-1)!;
    expect(copy).toMatchObject({ route: 'to-down-pool', clientId: 'dev-4', address: 'down/1', headers: { 'x-secret': '[redacted]' } });
    expect(JSON.parse(Buffer.from(String(copy.payload), 'base64').toString())).toEqual({
      secret: '[redacted]',
      nested: { token: '[redacted]', keep: 1 },
      celsius: 21,
    });
    const req = tap.requests.at(-1)!;
    expect(req).toMatchObject({ method: 'POST', url: '/copies' });
    expect(req.headers['content-type']).toBe('application/x-ndjson');
    expect(JSON.stringify(tap.requests.map((r) => r.body.toString()))).not.toMatch(/hunter2|s3cr3t|"tok"/);
    // Counted once the mirror pool's answer is back, which may be after the back-end recorded the request.
    await until(async () => (await counter('thinggate_guard_mirror_messages_total', 'to-down-pool', 'pool:tap')) >= 1);
  } finally {
    await c.endAsync();
  }
});

it('delivers every message while its mirror pool is down, dropping and counting the copies', async () => {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port('mqtt')}`, { clientId: 'dev-5', protocolVersion: 5, reconnectPeriod: 0 });
  try {
    const n = backend.requests.length;
    // publishAsync rejects on a PUBACK with an error reason code: all 30 resolving means all were accepted.
    await Promise.all(Array.from({ length: 30 }, (_, i) => c.publishAsync(`mdown/${i}`, 'x', { qos: 1 })));
    await backend.waitFor(n + 30);
    // Every copy is dropped: most because the queue (5) was full, the rest because the pool refused.
    await until(async () => (await counter('thinggate_guard_mirror_dropped_total', 'mirror-down', 'pool:down')) === 30);
    expect(await counter('thinggate_guard_mirror_messages_total', 'mirror-down')).toBe(0);
  } finally {
    await c.endAsync();
  }
});
