import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { GatewayPipeline, RouteTable } from '../../src/routing/index.js';
import { createBalancer } from '../../src/balancer/index.js';
import { DeviceRegistry, type DeviceMessage, type Subscriber } from '../../src/devices/registry.js';
import { parseConfig } from '../../src/config/load.js';
import type { Envelope, EnvelopeInit } from '../../src/envelope/index.js';
import { testEnvelope } from '../helpers/envelope.js';
import { silentLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { TestBackend, type Answer } from '../helpers/backend.js';

function env(address: string, extra: Partial<EnvelopeInit> = {}): Envelope {
  return testEnvelope(address, '{"t":21}', { contentType: 'application/json', ...extra });
}

describe('pipeline: route → pool → real HTTP back-end → outcome', () => {
  let backend: TestBackend;
  let pipeline: GatewayPipeline;
  const devices = new DeviceRegistry();
  const balancers: Array<{ close(ms?: number): Promise<void> }> = [];

  beforeAll(async () => {
    backend = await TestBackend.start((req): Answer => {
      const m = /^\/status\/(\d+)/.exec(req.url);
      if (m) return { status: Number(m[1]), body: `status ${m[1]} for you`, headers: { 'retry-after': '3' } };
      if (req.url.startsWith('/echo')) return { status: 200, body: req.body, headers: { 'content-type': 'application/cbor' } };
      return { status: 204 };
    });
    const config = parseConfig(
      {
        listeners: [{ name: 'mqtt', protocol: 'mqtt', port: 0 }],
        pools: [{ name: 'p', endpoints: [{ url: backend.url }] }],
        routes: [
          { match: { address: 'status/+' }, pool: 'p', request: { path: '/status/{address.1}' } },
          { match: { address: 'echo/#' }, pool: 'p', request: { path: '/echo', reply: true, headers: { 'X-Tenant': 'acme' } } },
          { match: { address: 'devices/#' }, target: 'devices' },
          { match: { address: 'data/#' }, pool: 'p', request: { method: 'PUT', path: '/d/{clientId}/{address}' } },
        ],
      },
      { env: {} },
    );
    const balancer = createBalancer(config.pools);
    balancers.push(balancer);
    pipeline = new GatewayPipeline({ routes: new RouteTable(config.routes), balancer }, devices, silentLogger(), new Metrics());
  });

  afterAll(async () => {
    for (const b of balancers) await b.close(0);
    await backend.close();
  });

  it('renders the request: method, path, thinggate headers, content type and body', async () => {
    const e = env('data/room1/temp');
    const outcome = await pipeline.handle(e);
    expect(outcome).toMatchObject({ kind: 'accepted', status: 204 });
    const req = backend.requests.at(-1)!;
    expect(req.method).toBe('PUT');
    expect(req.url).toBe('/d/dev-1/data/room1/temp');
    expect(req.headers).toMatchObject({
      'x-thinggate-message-id': e.id,
      'x-thinggate-client-id': 'dev-1',
      'x-thinggate-protocol': 'mqtt',
      'x-thinggate-address': 'data/room1/temp',
      'idempotency-key': e.id,
      'content-type': 'application/json',
    });
    expect(req.body.toString()).toBe('{"t":21}');
  });

  it('defaults the content type to application/octet-stream', async () => {
    await pipeline.handle(env('data/x', { contentType: undefined }));
    expect(backend.requests.at(-1)!.headers['content-type']).toBe('application/octet-stream');
  });

  it('returns the back-end response as the reply when the route asks for it', async () => {
    const outcome = await pipeline.handle(env('echo/1', { payload: Buffer.from([1, 2, 3]) }));
    expect(backend.requests.at(-1)!.headers['x-tenant']).toBe('acme');
    expect(outcome.kind).toBe('accepted');
    if (outcome.kind !== 'accepted') return;
    expect(outcome.reply?.payload).toEqual(Buffer.from([1, 2, 3]));
    expect(outcome.reply?.contentType).toBe('application/cbor');
  });

  it('maps 4xx to rejected with the status and 5xx to unavailable with Retry-After', async () => {
    expect(await pipeline.handle(env('status/403'))).toMatchObject({
      kind: 'rejected',
      status: 403,
      code: 'TG_ERR_UPSTREAM_REJECTED',
      reason: 'back-end refused the message (403)',
      detail: expect.stringContaining('answered 403: status 403 for you'),
    });
    expect(await pipeline.handle(env('status/503'))).toMatchObject({
      kind: 'unavailable',
      status: 503,
      code: 'TG_ERR_UPSTREAM_STATUS',
      retryAfterMs: 3000,
    });
  });

  it('rejects an address no route matches with 404', async () => {
    expect(await pipeline.handle(env('nowhere'))).toMatchObject({ kind: 'rejected', status: 404, code: 'TG_ERR_NO_ROUTE' });
  });

  it('delivers target: devices routes to matching subscribers at the lower QoS', async () => {
    const got: Array<[DeviceMessage, number]> = [];
    const sub: Subscriber = { clientId: 'd2', listener: 'mqtt', deliver: (m, q) => (got.push([m, q]), true) };
    devices.connect(sub);
    devices.subscribe(sub, 'devices/+/cmd', { qos: 1 });
    devices.subscribe(sub, 'devices/#', { qos: 0 });
    const n = backend.requests.length;
    const outcome = await pipeline.handle(env('devices/d2/cmd', { delivery: 'exactly-once' }));
    expect(outcome.kind).toBe('accepted');
    expect(got).toHaveLength(1); // once, at the highest matching subscription's QoS
    expect(got[0]![1]).toBe(1);
    expect(got[0]![0].payload.toString()).toBe('{"t":21}');
    expect(backend.requests.length).toBe(n);
    devices.disconnect(sub);
  });

  it('reports unavailable at once when the pool is saturated, never queueing without bound', async () => {
    const slow = await TestBackend.start(() => ({ status: 200, delayMs: 300 }));
    try {
      const config = parseConfig(
        {
          listeners: [],
          pools: [{ name: 's', endpoints: [{ url: slow.url }], maxInflight: 1, maxPending: 1 }],
          routes: [{ match: {}, pool: 's' }],
        },
        { env: {} },
      );
      const balancer = createBalancer(config.pools);
      balancers.push(balancer);
      const p = new GatewayPipeline({ routes: new RouteTable(config.routes), balancer }, new DeviceRegistry(), silentLogger(), new Metrics());
      const results = await Promise.all([p.handle(env('a')), p.handle(env('b')), p.handle(env('c'))]);
      expect(results.map((r) => r.kind)).toEqual(['accepted', 'accepted', 'unavailable']);
      expect(results[2]).toMatchObject({ code: 'TG_ERR_POOL_OVERLOADED' });
    } finally {
      await slow.close();
    }
  });

  it('spools at-least-once messages for a pool with a spool, but never those whose response is the reply', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dead = await TestBackend.start();
    const url = dead.url;
    await dead.close();
    const config = parseConfig(
      {
        listeners: [],
        pools: [{ name: 'd', endpoints: [{ url }], spool: { directory: join(mkdtempSync(join(tmpdir(), 'tg-spool-')), 'spool') } }],
        routes: [
          { match: { address: 'ask/#' }, pool: 'd', request: { reply: true } },
          { match: {}, pool: 'd' },
        ],
      },
      { env: {} },
    );
    const balancer = createBalancer(config.pools);
    balancers.push(balancer);
    const p = new GatewayPipeline({ routes: new RouteTable(config.routes), balancer }, new DeviceRegistry(), silentLogger(), new Metrics());
    expect(await p.handle(env('data'))).toMatchObject({ kind: 'accepted', status: 202 });
    expect((await p.handle(env('ask/1'))).kind).toBe('unavailable');
    expect((await p.handle(env('data', { delivery: 'at-most-once' }))).kind).toBe('unavailable');
  });

  it('reports unavailable when no back-end listens', async () => {
    const dead = await TestBackend.start();
    const url = dead.url;
    await dead.close();
    const config = parseConfig({ listeners: [], pools: [{ name: 'd', endpoints: [{ url }] }], routes: [{ match: {}, pool: 'd' }] }, { env: {} });
    const balancer = createBalancer(config.pools);
    balancers.push(balancer);
    const p = new GatewayPipeline({ routes: new RouteTable(config.routes), balancer }, new DeviceRegistry(), silentLogger(), new Metrics());
    expect(await p.handle(env('a'))).toMatchObject({ kind: 'unavailable', status: 503 });
  });
});
