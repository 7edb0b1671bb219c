/**
 * MQTT.js (v3.1.1 and v5) → thinggate → a real HTTP back-end, at QoS 0/1/2:
 * the request's path, headers and body, and acknowledgements withheld until
 * the back-end answered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { client, startBed, type MqttTestBed } from './mqtt-support.js';

let bed: MqttTestBed;
beforeAll(async () => {
  bed = await startBed();
});
afterAll(async () => {
  await bed.close();
});

describe.each([4, 5] as const)('MQTT.js protocol version %i', (protocolVersion) => {
  it.each([0, 1, 2] as const)('delivers a QoS %i publish to the back-end with path, headers and body', async (qos) => {
    const c = await client(bed.port, { protocolVersion, clientId: `pub-v${protocolVersion}-q${qos}` });
    try {
      const before = bed.backend.requests.length;
      const topic = `telemetry/v${protocolVersion}/q${qos}`;
      await c.publishAsync(topic, Buffer.from(`hello ${qos}`), { qos });
      await bed.backend.waitFor(before + 1);
      const req = bed.backend.requests.find((r) => r.url === `/messages/${topic}`)!;
      expect(req).toBeDefined();
      expect(req.method).toBe('POST');
      expect(req.body.toString()).toBe(`hello ${qos}`);
      expect(req.headers['x-thinggate-client-id']).toBe(`pub-v${protocolVersion}-q${qos}`);
      expect(req.headers['x-thinggate-protocol']).toBe('mqtt');
      expect(req.headers['x-thinggate-address']).toBe(topic);
      expect(req.headers['x-thinggate-message-id']).toMatch(/^[0-9A-Z]{22}$/);
      expect(req.headers['content-type']).toBe('application/octet-stream');
    } finally {
      await c.endAsync();
    }
  });

  it('withholds PUBACK until a slow back-end answers', async () => {
    bed.backend.responder = () => ({ status: 200, delayMs: 500 });
    const c = await client(bed.port, { protocolVersion });
    try {
      const t0 = Date.now();
      await c.publishAsync('slow/one', 'x', { qos: 1 });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(480);
      const t1 = Date.now();
      await c.publishAsync('slow/two', 'x', { qos: 2 });
      expect(Date.now() - t1).toBeGreaterThanOrEqual(480);
    } finally {
      bed.backend.responder = () => ({ status: 200, body: 'ok' });
      await c.endAsync();
    }
  });
});

describe('MQTT 5 properties', () => {
  it('maps content type, user properties, response topic and correlation data onto the request', async () => {
    const c = await client(bed.port, { protocolVersion: 5, clientId: 'props' });
    try {
      const before = bed.backend.requests.length;
      await c.publishAsync('props/x', '{"a":1}', {
        qos: 1,
        properties: {
          contentType: 'application/json',
          userProperties: { 'X-Trace': 'abc' },
          responseTopic: 'replies/props',
          correlationData: Buffer.from('corr-1'),
        },
      });
      await bed.backend.waitFor(before + 1);
      const req = bed.backend.requests.at(-1)!;
      expect(req.headers['content-type']).toBe('application/json');
      expect(req.headers['x-thinggate-reply-to']).toBe('replies/props');
      expect(req.headers['x-thinggate-correlation-id']).toBe(Buffer.from('corr-1').toString('base64url'));
    } finally {
      await c.endAsync();
    }
  });

  it('answers PUBACK 0x99 for a payload declared UTF-8 that is not', async () => {
    const c = await client(bed.port, { protocolVersion: 5 });
    try {
      const before = bed.backend.requests.length;
      const err = await c.publishAsync('utf8/bad', Buffer.from([0xff, 0xfe]), { qos: 1, properties: { payloadFormatIndicator: true } }).then(
        () => undefined,
        (e: unknown) => e as { code?: number },
      );
      expect(err?.code).toBe(0x99);
      expect(bed.backend.requests.length).toBe(before);
    } finally {
      await c.endAsync();
    }
  });

  it('publishes over WebSocket with subprotocol mqtt', async () => {
    const c = await mqtt.connectAsync(`ws://127.0.0.1:${bed.wsPort}/mqtt`, { protocolVersion: 5, reconnectPeriod: 0 });
    try {
      const before = bed.backend.requests.length;
      await c.publishAsync('ws/topic', 'over ws', { qos: 1 });
      await bed.backend.waitFor(before + 1);
      expect(bed.backend.requests.at(-1)!.url).toBe('/messages/ws/topic');
      expect(bed.backend.requests.at(-1)!.body.toString()).toBe('over ws');
    } finally {
      await c.endAsync();
    }
  });
});
