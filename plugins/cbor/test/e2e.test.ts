/**
 * plugins/cbor end to end, with its example configuration: MQTT.js publishes
 * CBOR, a real back-end receives JSON (static route) or CBOR built by a
 * script from `msg.decode()`.
 */
import { describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { join } from 'node:path';
import { encode, decode } from 'cbor-x/encode';
import { useExample } from '../../../test/helpers/plugin-example.js';
import { client } from '../../../test/integration/mqtt-support.js';

const example = join(import.meta.dirname, '../example');

/** The reason code of a QoS 1 publish's PUBACK (MQTT 5 §3.4.2.1), whether MQTT.js reports it as an error or not. */
function reasonCode(c: MqttClient, topic: string, payload: Buffer): Promise<number | undefined> {
  return new Promise((resolve) => {
    c.publish(topic, payload, { qos: 1 }, (err, packet) =>
      resolve((err as { code?: number } | undefined)?.code ?? (packet as { reasonCode?: number } | undefined)?.reasonCode),
    );
  });
}

describe('plugins/cbor end to end', () => {
  const bed = useExample(example);

  it('delivers an MQTT 3.1.1 CBOR payload to the back-end as JSON', async () => {
    const c = await client(bed.gw.port('mqtt'), { clientId: 'meter-1', protocolVersion: 4 });
    await c.publishAsync('telemetry/meter-1', Buffer.from(encode({ kwh: 12.5, phase: [1, 2, 3] })), { qos: 1 });
    await c.endAsync();
    const req = bed.backend.requests.find((r) => r.url === '/telemetry/meter-1')!;
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body.toString())).toEqual({ kwh: 12.5, phase: [1, 2, 3] });
  });

  it('refuses an MQTT 5 payload that is not CBOR with 0x99 (payload format invalid)', async () => {
    const c = await client(bed.gw.port('mqtt'), { clientId: 'meter-2', protocolVersion: 5 });
    const before = bed.backend.requests.length;
    const ack = await reasonCode(c, 'telemetry/meter-2', Buffer.from([0xa1]));
    await c.endAsync();
    expect(ack).toBe(0x99);
    expect(bed.backend.requests.length).toBe(before);
  });

  it('lets a script read msg.decode() and sends its structured body encoded as CBOR', async () => {
    const c = await client(bed.gw.port('mqtt'), { clientId: 'meter-3', protocolVersion: 5 });
    await c.publishAsync('scripted/meter-3', Buffer.from(encode({ kwh: 3 })), { qos: 1, properties: { contentType: 'application/cbor' } });
    await c.endAsync();
    const req = bed.backend.requests.find((r) => r.url === '/readings/meter-3')!;
    expect(req.headers['content-type']).toBe('application/cbor');
    expect(decode(req.body)).toEqual({ device: 'meter-3', kwh: 3 });
  });

  it('makes msg.decode() throw in the script on a payload that is not CBOR, failing only that message', async () => {
    const c = await client(bed.gw.port('mqtt'), { clientId: 'meter-5', protocolVersion: 5 });
    const before = bed.backend.requests.length;
    const ack = await reasonCode(c, 'scripted/meter-5', Buffer.from([0xa1]));
    await c.endAsync();
    expect(ack).toBe(0x80);
    expect(bed.backend.requests.length).toBe(before);
    expect(bed.gw.logs.some((l) => JSON.stringify(l).includes('payload is not valid application/cbor'))).toBe(true);
  });
});
