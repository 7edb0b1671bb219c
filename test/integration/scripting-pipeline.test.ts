/**
 * Scripts in the pipeline against a real HTTP back-end: every decision kind
 * carried out, the three failure kinds while other traffic is served, and
 * hot reload under load without lost or doubly-dispatched messages.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayPipeline, RouteTable } from '../../src/routing/index.js';
import { createBalancer, type Balancer } from '../../src/balancer/index.js';
import { DeviceRegistry, type DeviceMessage, type Subscriber } from '../../src/devices/registry.js';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { buildScriptHost } from '../../src/scripting/factory.js';
import type { IsolateScriptHost } from '../../src/scripting/host.js';
import { TestBackend } from '../helpers/backend.js';
import { ScriptDir, envelope, fromClient } from '../unit/scripting/support.js';

const dir = new ScriptDir();
dir.write(
  'kinds.js',
  `
export function onMessage(msg) {
  const [, kind] = msg.address.split('/');
  switch (kind) {
    case 'route': return route('other', { method: 'PUT', path: '/kinds/' + msg.clientId, body: { n: msg.json().n }, headers: { 'x-by': 'script' } });
    case 'default': return route();
    case 'reply': return reply({ pong: msg.text() }, { code: 201 });
    case 'drop': return drop('boring');
    case 'reject': return reject('not allowed here', 403);
    case 'publish': return publish('devices/' + msg.clientId + '/notice', 'hello', { qos: 1 });
    case 'ask': return route('main', { path: '/answer', reply: true });
    case 'fan-out': return [publish('devices/a/notice', '1'), route('main', { path: '/fan' }), route('other', { path: '/fan' })];
    case 'unknown-pool': return route('nope');
  }
  return reject('?', 404);
}
export function onResponse(res) { return reply('shaped:' + res.text(), { contentType: 'text/x-shaped' }); }
`,
);
dir.write(
  'failing.js',
  `
const hog = [];
export function onMessage(msg) {
  if (msg.address.endsWith('/throw')) throw new Error('kaput');
  if (msg.address.endsWith('/loop')) for (;;) {}
  if (msg.address.endsWith('/memory')) for (;;) hog.push(new Array(1000000).fill(1));
  return route('main', { path: '/failing-ok' });
}
`,
);
const RELOAD_V = (v: number) => `export function onMessage(msg) { return route('main', { path: '/reload/v${v}' }); }\n`;
dir.write('reloading.js', RELOAD_V(0));

let backend: TestBackend;
let pipeline: GatewayPipeline;
let scripts: IsolateScriptHost;
let balancer: Balancer;
const devices = new DeviceRegistry();
const got: DeviceMessage[] = [];

beforeAll(async () => {
  backend = await TestBackend.start((req) => {
    if (req.url === '/answer') return { status: 200, body: 'forty-two', headers: { 'content-type': 'text/plain' } };
    return { status: 204 };
  });
  const config = parseConfig(
    {
      listeners: [],
      pools: [
        { name: 'main', endpoints: [{ url: backend.url }] },
        { name: 'other', endpoints: [{ url: backend.url }] },
      ],
      routes: [
        { match: { address: 'k/#' }, pool: 'main', script: 'kinds.js', request: { path: '/default/{clientId}' } },
        { match: { address: 'f/#' }, pool: 'main', script: 'failing.js' },
        { match: { address: 'r/#' }, pool: 'main', script: 'reloading.js' },
        { match: { address: 'static/#' }, pool: 'main', request: { path: '/static' } },
      ],
      // The time limit is wall-clock: the memory hog must reach its 16 MB limit before it on a loaded host.
      scripts: { timeoutMs: 2000, memoryMb: 16, watch: true, debounceMs: 5, throttle: { failures: 1000 } },
    },
    { baseDir: dir.path, env: {} },
  );
  const metrics = new Metrics();
  scripts = await buildScriptHost(config, silentLogger(), metrics);
  balancer = createBalancer(config.pools, { baseDir: dir.path, logger: silentLogger(), metrics });
  pipeline = new GatewayPipeline({ routes: new RouteTable(config.routes), balancer, scripts }, devices, silentLogger(), metrics);
  const sub: Subscriber = { clientId: 'a', listener: 'mqtt', deliver: (m) => (got.push(m), true) };
  devices.connect(sub);
  devices.subscribe(sub, 'devices/#', { qos: 1 });
});

afterAll(async () => {
  await scripts.close();
  await balancer.close(0);
  await backend.close();
  dir.remove();
});

describe('every decision kind through the pipeline', () => {
  it('route: to a named pool with method, path, headers and a JSON body', async () => {
    const before = backend.requests.length;
    expect(await pipeline.handle(fromClient('d1', 'k/route', '{"n":5}'))).toMatchObject({ kind: 'accepted', status: 204 });
    const req = backend.requests[before]!;
    expect(req).toMatchObject({ method: 'PUT', url: '/kinds/d1' });
    expect(req.headers).toMatchObject({ 'x-by': 'script', 'content-type': 'application/json' });
    expect(req.body.toString()).toBe('{"n":5}');
  });

  it("route() without a pool uses the route's pool and request template", async () => {
    const before = backend.requests.length;
    expect(await pipeline.handle(fromClient('d2', 'k/default', 'raw'))).toMatchObject({ kind: 'accepted' });
    expect(backend.requests[before]).toMatchObject({ method: 'POST', url: '/default/d2' });
    expect(backend.requests[before]!.body.toString()).toBe('raw');
  });

  it('reply: answers the device without a back-end', async () => {
    const before = backend.requests.length;
    const o = await pipeline.handle(envelope('k/reply', 'ping'));
    expect(o).toMatchObject({ kind: 'accepted', status: 201, reply: { status: 201, contentType: 'application/json' } });
    expect((o as { reply: { payload: Buffer } }).reply.payload.toString()).toBe('{"pong":"ping"}');
    expect(backend.requests.length).toBe(before);
  });

  it('drop: acknowledged and discarded', async () => {
    expect(await pipeline.handle(envelope('k/drop'))).toEqual({ kind: 'accepted', status: 200, dropped: true });
  });

  it('reject: a negative outcome with the reason and code', async () => {
    expect(await pipeline.handle(envelope('k/reject'))).toEqual({ kind: 'rejected', status: 403, code: 'TG_ERR_SCRIPT_REJECTED', reason: 'not allowed here' });
  });

  it('publish: delivered to subscribed devices', async () => {
    got.length = 0;
    expect(await pipeline.handle(fromClient('d3', 'k/publish'))).toMatchObject({ kind: 'accepted' });
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ topic: 'devices/d3/notice', qos: 1 });
    expect(got[0]!.payload.toString()).toBe('hello');
  });

  it('route with reply: the back-end answer, shaped by onResponse, is the reply', async () => {
    const o = await pipeline.handle(envelope('k/ask'));
    expect(o).toMatchObject({ kind: 'accepted', reply: { contentType: 'text/x-shaped' } });
    expect((o as { reply: { payload: Buffer } }).reply.payload.toString()).toBe('shaped:forty-two');
  });

  it('fan-out: every decision is carried out', async () => {
    got.length = 0;
    const before = backend.requests.length;
    expect(await pipeline.handle(envelope('k/fan-out'))).toMatchObject({ kind: 'accepted' });
    expect(got.map((m) => m.topic)).toEqual(['devices/a/notice']);
    expect(backend.requests.slice(before).map((r) => r.url)).toEqual(['/fan', '/fan']);
  });

  it('a route() to an unknown pool is an invalid decision', async () => {
    expect(await pipeline.handle(envelope('k/unknown-pool'))).toMatchObject({ kind: 'rejected', code: 'TG_ERR_SCRIPT_INVALID_DECISION' });
  });
});

describe('failures affect only the messages they were handling', () => {
  it.each([
    ['throw', 'TG_ERR_SCRIPT_THREW'],
    ['loop', 'TG_ERR_SCRIPT_TIMEOUT'],
    ['memory', 'TG_ERR_SCRIPT_MEMORY'],
  ])('%s → %s while static routes, other scripts and the same script keep serving', async (kind, code) => {
    const before = backend.requests.length;
    const failing = pipeline.handle(fromClient('bad', `f/${kind}`));
    const others = [
      ...Array.from({ length: 5 }, (_, i) => pipeline.handle(fromClient(`s${i}`, 'static/x'))),
      ...Array.from({ length: 5 }, (_, i) => pipeline.handle(fromClient(`k${i}`, 'k/default'))),
      // Messages of the same script in the same call survive a throw or a timeout; a memory
      // failure loses the isolate with every message of the call (see docs/scripting.md).
      ...(kind === 'memory' ? [] : Array.from({ length: 5 }, (_, i) => pipeline.handle(fromClient(`f${i}`, 'f/fine')))),
    ];
    expect(await failing).toMatchObject({ kind: 'rejected', status: 500, code });
    for (const o of await Promise.all(others)) expect(o).toMatchObject({ kind: 'accepted', status: 204 });
    expect(backend.requests.length - before).toBe(others.length);
    // And afterwards the script runs as before.
    expect(await pipeline.handle(fromClient('bad', 'f/fine'))).toMatchObject({ kind: 'accepted' });
  });
});

describe('hot reload under load', () => {
  it('swaps versions while messages flow: none lost, none dispatched twice, each on one version', async () => {
    const unit = scripts.units.get('reloading.js')!;
    const N = 600;
    const before = backend.requests.length;
    const ids = new Set<string>();
    let sent = 0;
    let version = 0;
    const outcomes: Array<Promise<unknown>> = [];
    const reloads = (async () => {
      for (let v = 1; v <= 4; v++) {
        while (sent < (N * v) / 5) await new Promise((r) => setImmediate(r));
        const swapped = once(unit.events, 'swapped');
        dir.write('reloading.js', RELOAD_V(v));
        await swapped;
        version = v;
      }
    })();
    for (let i = 0; i < N; i++) {
      const e = fromClient(`load-${i % 20}`, 'r/x');
      ids.add(e.id);
      outcomes.push(pipeline.handle(e));
      sent++;
      if (i % 10 === 9) await new Promise((r) => setImmediate(r));
    }
    await reloads;
    const results = await Promise.all(outcomes);
    expect(results.every((o) => (o as { kind: string }).kind === 'accepted')).toBe(true);
    const reqs = backend.requests.slice(before).filter((r) => r.url.startsWith('/reload/'));
    expect(reqs).toHaveLength(N);
    const seen = reqs.map((r) => r.headers['x-thinggate-message-id'] as string);
    expect(new Set(seen).size).toBe(N);
    expect(seen.every((id) => ids.has(id))).toBe(true);
    const versions = new Set(reqs.map((r) => r.url));
    expect(versions.has('/reload/v0')).toBe(true);
    expect(version).toBe(4);
    expect((await pipeline.handle(envelope('r/x'))) as unknown).toMatchObject({ kind: 'accepted' });
    expect(backend.requests.at(-1)!.url).toBe('/reload/v4');
  });
});
