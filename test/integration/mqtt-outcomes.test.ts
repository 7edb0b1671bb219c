/**
 * Outcome mapping: back-end statuses become v5 PUBACK/PUBREC reason codes
 * (with a Reason String); a v3.1.1 client, which has no negative
 * acknowledgement, is disconnected without an ack and redelivers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IPubackPacket, IPubrecPacket } from 'mqtt-packet';
import { RawClient, client, startBed, type MqttTestBed } from './mqtt-support.js';

let bed: MqttTestBed;
beforeAll(async () => {
  bed = await startBed();
  // The topic's last level names the status the back-end answers with.
  bed.backend.responder = (req) => ({ status: Number(req.url.split('/').at(-1)) || 200, body: 'because' });
});
afterAll(async () => {
  await bed.close();
});

describe('v5 reason codes', () => {
  it.each([
    [403, 0x87],
    [401, 0x87],
    [400, 0x99],
    [422, 0x99],
    [404, 0x90],
    [429, 0x97],
    [409, 0x80],
    [500, 0x80],
    [503, 0x80],
  ])('back-end %i → PUBACK and PUBREC reason 0x%s', async (status, code) => {
    const c = await client(bed.port, { protocolVersion: 5 });
    try {
      for (const qos of [1, 2] as const) {
        const err = await c.publishAsync(`status/${status}`, 'x', { qos }).then(
          () => undefined,
          (e: unknown) => e as { code?: number },
        );
        expect(err?.code, `QoS ${qos}`).toBe(code);
      }
      expect(c.connected).toBe(true);
    } finally {
      await c.endAsync();
    }
  });

  it('sends the outcome reason as Reason String, and leaves it out when problem information is not wanted', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    try {
      raw.send({ cmd: 'publish', topic: 'status/403', payload: Buffer.from('x'), qos: 1, messageId: 7, dup: false, retain: false });
      const ack = (await raw.next('puback')) as IPubackPacket;
      expect(ack.reasonCode).toBe(0x87);
      // The device is not told the back-end's URL or body (log.upstreamDetailsToDevices); the log has them.
      expect(ack.properties?.reasonString).toBe('back-end refused the message (403)');
      raw.send({ cmd: 'publish', topic: 'status/500', payload: Buffer.from('x'), qos: 2, messageId: 8, dup: false, retain: false });
      const rec = (await raw.next('pubrec')) as IPubrecPacket;
      expect(rec.reasonCode).toBe(0x80);
      expect(rec.properties?.reasonString).toMatch(/500/);
    } finally {
      raw.destroy();
    }
    const quiet = await RawClient.open(bed.port, 5);
    try {
      quiet.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clientId: 'quiet',
        clean: true,
        keepalive: 60,
        properties: { requestProblemInformation: false },
      });
      await quiet.next('connack');
      quiet.send({ cmd: 'publish', topic: 'status/403', payload: Buffer.from('x'), qos: 1, messageId: 1, dup: false, retain: false });
      const ack = (await quiet.next('puback')) as IPubackPacket;
      expect(ack.reasonCode).toBe(0x87);
      expect(ack.properties?.reasonString).toBeUndefined();
    } finally {
      quiet.destroy();
    }
  });
});

describe('v3.1.1 has no negative acknowledgement', () => {
  it.each([500, 403])('closes without PUBACK on %i and the client redelivers on reconnect', async (status) => {
    let calls = 0;
    bed.backend.responder = () => ({ status: ++calls === 1 ? status : 200 });
    const c = await client(bed.port, { protocolVersion: 4, clientId: `v3-redeliver-${status}`, clean: false, reconnectPeriod: 50 });
    try {
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      const before = bed.backend.requests.length;
      const acked = c.publishAsync('redeliver/me', 'payload-1', { qos: 1 });
      await closed; // the gateway closed the connection instead of acknowledging
      await acked; // resolved only after the redelivered copy was accepted
      expect(bed.backend.requests.length - before).toBe(2);
      expect(bed.backend.requests.slice(before).map((r) => r.body.toString())).toEqual(['payload-1', 'payload-1']);
    } finally {
      bed.backend.responder = (req) => ({ status: Number(req.url.split('/').at(-1)) || 200, body: 'because' });
      await c.endAsync();
    }
  });
});
