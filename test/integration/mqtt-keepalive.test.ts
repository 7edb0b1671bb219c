/**
 * Regression: the keepalive clock [MQTT-3.1.2-24] runs only while thinggate
 * reads the connection. While reading is paused for back-pressure (the
 * in-flight limit reached, a slow back-end), a client's silence is
 * thinggate's doing: it is not disconnected, not reported as a keepalive
 * violation, and its Will is not published. A client silent while it is
 * being read is still dropped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { RawClient, client, startBed, type MqttTestBed } from './mqtt-support.js';

/** Each slow message is held this long by the back-end; with maxInflight 1 they are answered one by one. */
const HOLD_MS = 500;
let bed: MqttTestBed;
let watcher: MqttClient;
const wills: string[] = [];

beforeAll(async () => {
  bed = await startBed({
    limits: { maxInflight: 1 },
    routes: [
      { match: { address: 'wills/#' }, target: 'devices' },
      { match: { address: '#' }, pool: 'default', request: { method: 'POST', path: '/messages/{address}' } },
    ],
  });
  bed.backend.responder = (req) => ({ status: 200, delayMs: req.url.startsWith('/messages/slow/') ? HOLD_MS : 0 });
  watcher = await client(bed.port, { clientId: 'will-watcher', keepalive: 60 });
  watcher.on('message', (topic) => wills.push(topic));
  await watcher.subscribeAsync('wills/#', { qos: 1 });
});

afterAll(async () => {
  await watcher?.endAsync();
  await bed?.close();
});

const keepaliveEvents = (clientId: string): unknown[] =>
  bed.gw.logs.filter((l) => l.event === 'security' && l.kind === 'keepalive-timeout' && l.clientId === clientId);

describe('keepalive while thinggate is not reading', () => {
  it('keeps an MQTT.js client whose messages wait for a slow back-end for several keepalive periods', async () => {
    // MQTT.js resets its own keepalive timer on every PUBACK (500 ms apart here), so only thinggate could drop it.
    const c = await client(bed.port, { clientId: 'busy', keepalive: 2, will: { topic: 'wills/busy', payload: Buffer.from('gone'), qos: 1, retain: false } });
    let closed = false;
    const dropped = new Promise<never>((_, reject) =>
      c.on('close', () => {
        closed = true;
        reject(new Error('client disconnected'));
      }),
    );
    dropped.catch(() => undefined);
    try {
      const n = 10; // n × HOLD_MS of back-pressure: well over 1.5 × the 2 s keepalive
      const t0 = Date.now();
      await Promise.race([Promise.all(Array.from({ length: n }, (_, i) => c.publishAsync(`slow/${i}`, String(i), { qos: 1 }))), dropped]);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(3000 + HOLD_MS);
      expect(closed).toBe(false);
      expect(c.connected).toBe(true);
      expect(bed.backend.requests.filter((r) => r.url.startsWith('/messages/slow/'))).toHaveLength(n);
      // Reading resumed with a fresh keepalive period: the client is still served.
      await c.publishAsync('fast/after', 'x', { qos: 1 });
    } finally {
      if (closed) c.end(true);
      else await c.endAsync();
    }
    expect(keepaliveEvents('busy')).toEqual([]);
    expect(wills).not.toContain('wills/busy');
  });

  it('still drops a client silent once reading resumes, and publishes its Will', async () => {
    const raw = await RawClient.open(bed.port, 4);
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: 'quiet',
      clean: true,
      keepalive: 1,
      will: { topic: 'wills/quiet', payload: Buffer.from('gone'), qos: 0, retain: false },
    });
    await raw.next('connack');
    // Four QoS 1 messages in one write, then silence: no PINGREQ ever.
    const t0 = Date.now();
    for (let i = 0; i < 4; i++)
      raw.send({ cmd: 'publish', topic: `slow/q${i}`, payload: Buffer.from('x'), qos: 1, messageId: i + 1, retain: false, dup: false });
    for (let i = 0; i < 4; i++) await raw.next('puback', 5000);
    const acked = Date.now();
    expect(acked - t0).toBeGreaterThanOrEqual(3 * HOLD_MS);
    await raw.waitClosed(5000);
    // Dropped 1.5 × keepalive after reading resumed, not during the back-pressure.
    expect(Date.now() - acked).toBeGreaterThanOrEqual(1000);
    expect(keepaliveEvents('quiet')).toHaveLength(1);
    for (let i = 0; i < 100 && !wills.includes('wills/quiet'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(wills).toContain('wills/quiet');
  });
});
