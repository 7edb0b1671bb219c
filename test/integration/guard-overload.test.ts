/**
 * guard.overload over real sockets. Watermarks set below what the process
 * always uses put the gateway into overload at the first sample: MQTT 5
 * CONNACK 0x89, 3.1.1 0x03, AMQP amqp:resource-limit-exceeded, HTTP 503
 * with Retry-After (curl), CoAP 5.03 (coap-client-notls); raised again, it
 * recovers by itself at the next sample. Throttling slows a connected
 * publisher without losing a message. Each change is logged and counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import mqtt from 'mqtt';
import rhea, { type EventContext } from 'rhea';
import { connectionCondition } from '../helpers/amqp.js';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { run, until } from '../helpers/run.js';
import type { GuardConfig } from '../../src/config/types.js';

let backend: TestBackend;
let gw: TestGateway;

/** Watermarks that are never reached, and ones the process always passes (any heap in use is above 0.0001 of the limit). */
const CALM = { heapUsedRatio: { refuse: 0.99, throttle: 1 }, eventLoopDelayMs: { refuse: 1e6, throttle: 1e6 } };
const REFUSE = { heapUsedRatio: { refuse: 0.0001, throttle: 1 }, eventLoopDelayMs: { refuse: 1e6, throttle: 1e6 } };
const THROTTLE = { heapUsedRatio: { refuse: 0.0001, throttle: 0.0001 }, eventLoopDelayMs: { refuse: 1e6, throttle: 1e6 }, throttlePauseMs: 100 };

function setOverload(over: Record<string, unknown>): void {
  const guard = gw.gateway.configuration.guard;
  gw.gateway.guard.configure({ summaryIntervalMs: 0, config: { ...guard, overload: { ...guard.overload, ...over } } as GuardConfig });
}

beforeAll(async () => {
  backend = await TestBackend.start();
  gw = await startGateway({
    listeners: [
      { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
      { name: 'amqp', protocol: 'amqp', host: '127.0.0.1', port: 0 },
      { name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 },
      { name: 'coap', protocol: 'coap', host: '127.0.0.1', port: 0 },
    ],
    pools: [{ name: 'be', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 }, outlierDetection: { enabled: false } }],
    routes: [{ match: { address: '#' }, pool: 'be', request: { method: 'POST', path: '/m/{address}' } }],
    guard: { overload: { intervalMs: 50, retryAfterSeconds: 7, ...CALM } },
  });
});

afterAll(async () => {
  await gw?.stop();
  await backend?.close();
});

function connack(protocolVersion: 4 | 5, clientId: string): Promise<number> {
  return new Promise((resolve) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${gw.port('mqtt')}`, { clientId, protocolVersion, reconnectPeriod: 0 });
    c.once('connect', () => (c.end(true), resolve(0)));
    c.once('error', (err: Error & { code?: number }) => (c.end(true), resolve(err.code ?? -1)));
  });
}

function amqpOutcome(id: string): Promise<string> {
  return new Promise((resolve) => {
    const conn = rhea.create_container({ id }).connect({ port: gw.port('amqp'), host: '127.0.0.1', reconnect: false });
    conn.once('connection_open', () => conn.open_sender('t').once('sendable', () => (conn.close(), resolve('open'))));
    conn.once('connection_error', (ctx: EventContext) => resolve(connectionCondition(ctx) ?? 'error'));
    conn.once('disconnected', () => resolve('disconnected'));
  });
}

const coapPost = () =>
  new Promise<string>((resolve) =>
    execFile('/usr/bin/coap-client-notls', ['-m', 'post', '-e', 'x', '-B', '5', `coap://127.0.0.1:${gw.port('coap')}/o`], { timeout: 15_000 }, (_e, out, err) =>
      resolve(out + err),
    ),
  );

describe('overload protection', () => {
  it('refuses new connections and requests with each protocol\'s "server busy", then recovers by itself', async () => {
    expect(await connack(5, 'before')).toBe(0);
    setOverload(REFUSE);
    await until(() => gw.gateway.guard.overloadState === 'refusing');
    expect(await connack(5, 'busy5')).toBe(0x89);
    expect(await connack(4, 'busy3')).toBe(0x03);
    expect(await amqpOutcome('busy-amqp')).toBe('amqp:resource-limit-exceeded');
    const http = (await run('curl', ['-s', '-i', '-X', 'POST', '-d', 'x', `http://127.0.0.1:${gw.port('web')}/ingress/o`])).out;
    expect(http).toMatch(/^HTTP\/1.1 503/);
    expect(http).toMatch(/retry-after: 7/i);
    expect(http).toContain('TG_ERR_OVERLOADED');
    expect(await coapPost()).toContain('5.03');
    setOverload(CALM);
    await until(() => gw.gateway.guard.overloadState === 'normal');
    expect(await connack(5, 'after')).toBe(0);
    expect(await amqpOutcome('after-amqp')).toBe('open');
    const changes = gw.logs.filter((l) => l.event === 'overload').map((l) => `${l.from}->${l.to}`);
    expect(changes).toEqual(['normal->refusing', 'refusing->normal']);
    const metrics = await gw.gateway.metrics.registry.metrics();
    expect(metrics).toMatch(/thinggate_guard_overload_transitions_total\{state="refusing"\} 1/);
    expect(metrics).toMatch(/thinggate_guard_overload_refusals_total\{listener="mqtt"\} 2/);
    expect(metrics).toMatch(/thinggate_guard_overload_state 0/);
  });

  it('throttling slows a connected publisher; every message still arrives', async () => {
    const c = await new Promise<mqtt.MqttClient>((resolve) => {
      const x = mqtt.connect(`mqtt://127.0.0.1:${gw.port('mqtt')}`, { clientId: 'pub', protocolVersion: 5, reconnectPeriod: 0 });
      x.once('connect', () => resolve(x));
    });
    try {
      setOverload(THROTTLE);
      await until(() => gw.gateway.guard.overloadState === 'throttling');
      const before = backend.requests.length;
      const started = Date.now();
      for (let i = 0; i < 10; i++) await c.publishAsync('t/o', `m${i}`, { qos: 1 });
      // Reads pause 100 ms after each message: ten in a row take at least about 0.9 s however fast the host.
      expect(Date.now() - started).toBeGreaterThanOrEqual(800);
      expect(backend.requests.length - before).toBe(10);
    } finally {
      setOverload(CALM);
      c.end(true);
    }
    await until(() => gw.gateway.guard.overloadState === 'normal');
  });
});

/** Watermarks on counts, on a gateway of their own: nothing left open by the tests above is counted. */
describe('overload watermarks on connections and messages in flight', () => {
  let g: TestGateway;
  let be: TestBackend;
  beforeAll(async () => {
    be = await TestBackend.start();
    g = await startGateway({
      listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
      pools: [{ name: 'be', endpoints: [{ url: be.url }], retries: { maxAttempts: 1 }, outlierDetection: { enabled: false } }],
      routes: [{ match: { address: '#' }, pool: 'be', request: { method: 'POST', path: '/m/{address}' } }],
      guard: { overload: { intervalMs: 50, ...CALM } },
    });
  });
  afterAll(async () => {
    await g?.stop();
    await be?.close();
  });
  const set = (over: Record<string, unknown>): void => {
    const guard = g.gateway.configuration.guard;
    g.gateway.guard.configure({ summaryIntervalMs: 0, config: { ...guard, overload: { ...guard.overload, ...over } } as GuardConfig });
  };
  const open = (clientId: string) =>
    new Promise<mqtt.MqttClient>((resolve) => {
      const x = mqtt.connect(`mqtt://127.0.0.1:${g.port('mqtt')}`, { clientId, protocolVersion: 5, reconnectPeriod: 0 });
      x.once('connect', () => resolve(x));
    });
  const connackOf = (clientId: string): Promise<number> =>
    new Promise((resolve) => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${g.port('mqtt')}`, { clientId, protocolVersion: 5, reconnectPeriod: 0 });
      c.once('connect', () => (c.end(true), resolve(0)));
      c.once('error', (err: Error & { code?: number }) => (c.end(true), resolve(err.code ?? -1)));
    });

  it('a watermark on open connections refuses the next one, and a close brings the gateway back', async () => {
    const a = await open('conn-a');
    const b = await open('conn-b');
    try {
      set({ connections: { refuse: 2, throttle: 0 } });
      await until(() => g.gateway.guard.overloadState === 'refusing');
      expect(await connackOf('conn-c')).toBe(0x89);
      // Back below recoverRatio (0.8) × 2: one connection.
      await b.endAsync();
      await until(() => g.gateway.guard.overloadState === 'normal');
      expect(await connackOf('conn-d')).toBe(0);
      const entered = g.logs.filter((l) => l.event === 'overload' && l.to === 'refusing').at(-1);
      expect(entered?.connections).toBe(2);
    } finally {
      set({ connections: { refuse: 0, throttle: 0 } });
      a.end(true);
      b.end(true);
    }
  });

  it('a watermark on messages in flight refuses new connections while the back-end holds them', async () => {
    be.responder = () => ({ status: 200, body: 'ok', delayMs: 1500 });
    const c = await open('slow-pub');
    try {
      set({ messagesInFlight: { refuse: 3, throttle: 0 } });
      const acks = [1, 2, 3].map((i) => c.publishAsync('t/held', `m${i}`, { qos: 1 }));
      await until(() => g.gateway.guard.overloadState === 'refusing');
      expect(await connackOf('while-held')).toBe(0x89);
      await Promise.all(acks);
      await until(() => g.gateway.guard.overloadState === 'normal');
      expect(await connackOf('after-held')).toBe(0);
      expect(g.logs.filter((l) => l.event === 'overload' && l.to === 'refusing').at(-1)?.inflight).toBe(3);
    } finally {
      be.responder = () => ({ status: 200, body: 'ok' });
      set({ messagesInFlight: { refuse: 0, throttle: 0 } });
      c.end(true);
    }
  });
});
