/**
 * Payload inspection on a route: a JSON Schema, content types and a size
 * limit, refused with each protocol's own code (MQTT 5 0x99, CoAP 4.00,
 * AMQP amqp:decode-error, HTTP 400), counted per route and reported as a
 * guard event; `thinggate check` names a broken schema file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import * as coap from 'coap';
import rhea, { type EventContext } from 'rhea';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { TestBackend } from '../helpers/backend.js';
import { errorCodeOf } from '../helpers/http.js';
import { run } from '../helpers/run.js';

let dir: string;
let backend: TestBackend;
let gw: TestGateway;

const SCHEMA = { type: 'object', required: ['celsius'], properties: { celsius: { type: 'number' } } };
const GOOD = JSON.stringify({ celsius: 21.5 });
const BAD = JSON.stringify({ celsius: 'warm' });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-inspect-'));
  writeFileSync(join(dir, 'telemetry.json'), JSON.stringify(SCHEMA));
  backend = await TestBackend.start();
  gw = await startGateway(
    {
      listeners: [
        { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
        { name: 'coap', protocol: 'coap', host: '127.0.0.1', port: 0 },
        { name: 'amqp', protocol: 'amqp', host: '127.0.0.1', port: 0 },
        { name: 'http', protocol: 'http', host: '127.0.0.1', port: 0 },
      ],
      pools: [{ name: 'default', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
      routes: [
        {
          name: 'telemetry',
          match: { address: 'telemetry/#' },
          pool: 'default',
          schema: 'telemetry.json',
          contentTypes: ['application/json'],
          maxPayloadBytes: 64,
        },
        { match: { address: '#' }, pool: 'default' },
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

async function refusals(check: string): Promise<number> {
  const m = gw.gateway.metrics.registry.getSingleMetric('thinggate_guard_inspection_refusals_total');
  return ((await m?.get())?.values ?? []).filter((v) => v.labels.route === 'telemetry' && v.labels.check === check).reduce((n, v) => n + v.value, 0);
}

describe('schema refusals on each protocol', () => {
  it('MQTT 5: PUBACK 0x99 with the first validation error; a valid payload passes', async () => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port('mqtt')}`, { protocolVersion: 5, reconnectPeriod: 0 });
    try {
      const n = backend.requests.length;
      await c.publishAsync('telemetry/a', GOOD, { qos: 1 });
      await backend.waitFor(n + 1);
      const err = (await c.publishAsync('telemetry/a', BAD, { qos: 1 }).then(
        () => undefined,
        (e: unknown) => e,
      )) as { code?: number } | undefined;
      expect(err?.code).toBe(0x99);
      expect(backend.requests.length).toBe(n + 1);
    } finally {
      await c.endAsync();
    }
    const event = gw.logs.find((l) => l.kind === 'payload-inspection' && l.listener === 'mqtt');
    expect(String(event?.detail)).toBe("route 'telemetry': payload fails telemetry.json: /celsius must be number");
  });

  it('HTTP: 400 with TG_ERR_PAYLOAD_INVALID; 415 for another content type; 413 over the size limit', async () => {
    const post = (body: string, type = 'application/json'): Promise<Response> =>
      fetch(`http://127.0.0.1:${gw.port('http')}/ingress/telemetry/h`, { method: 'POST', body, headers: { 'content-type': type } });
    const bad = await post(BAD);
    expect(bad.status).toBe(400);
    expect(await errorCodeOf(bad)).toBe('TG_ERR_PAYLOAD_INVALID');
    const type = await post(GOOD, 'text/plain');
    expect(type.status).toBe(415);
    expect(await errorCodeOf(type)).toBe('TG_ERR_CONTENT_TYPE');
    const big = await post(JSON.stringify({ celsius: 1, pad: 'x'.repeat(100) }));
    expect(big.status).toBe(413);
    expect((await post(GOOD)).status).toBeLessThan(300);
    expect(await refusals('content-type')).toBe(1);
    expect(await refusals('size')).toBe(1);
  });

  it('CoAP: 4.00', async () => {
    const agent = new coap.Agent({ type: 'udp4' });
    try {
      const code = await new Promise<string>((resolve, reject) => {
        const req = coap.request({ hostname: '127.0.0.1', port: gw.port('coap'), agent, method: 'POST', pathname: '/telemetry/c' });
        req.on('response', (res: coap.IncomingMessage) => resolve(res.code));
        req.on('error', reject);
        req.write(BAD);
        req.end();
      });
      expect(code).toBe('4.00');
    } finally {
      agent.close();
    }
  });

  it('AMQP: rejected with amqp:decode-error', async () => {
    const container = rhea.create_container();
    const conn = container.connect({ port: gw.port('amqp'), host: '127.0.0.1', reconnect: false });
    try {
      const condition = await new Promise<string | undefined>((resolve, reject) => {
        const sender = conn.open_sender('telemetry/q');
        sender.once('sendable', () => sender.send({ body: BAD, content_type: 'application/json' }));
        sender.once('rejected', (ctx: EventContext) =>
          resolve((ctx.delivery?.remote_state as { error?: { condition?: string } } | undefined)?.error?.condition),
        );
        sender.once('accepted', () => reject(new Error('accepted')));
      });
      expect(condition).toBe('amqp:decode-error');
    } finally {
      conn.close();
    }
  });

  it('counts every schema refusal for the route', async () => {
    expect(await refusals('schema')).toBe(4);
    expect(await gw.guardEvents('payload-inspection')).toBe(6);
  });
});

describe('thinggate check', () => {
  it('names the route and the file of a schema that does not compile', async () => {
    const bad = join(dir, 'broken.json');
    writeFileSync(bad, '{"type": "no-such-type"}');
    const file = join(dir, 'gw.yaml');
    writeFileSync(
      file,
      `listeners: []\npools: [{ name: p, endpoints: [{ url: "http://127.0.0.1:1" }] }]\nroutes:\n  - { match: { address: "#" }, pool: p, schema: broken.json }\n`,
    );
    const r = await run('node', ['dist/cli.js', 'check', '-c', file]);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/\/routes\/0\/schema: 'broken\.json': schema is invalid/);
  });
});
