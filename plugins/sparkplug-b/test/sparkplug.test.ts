/**
 * plugins/sparkplug-b: the codec contract, interoperability with an
 * independent Sparkplug B implementation (sparkplug-payload, on Eclipse Tahu's
 * generated code), and MQTT.js publishing real Sparkplug B payloads on
 * spBv1.0 topics that a back-end receives as JSON.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import sparkplugPayload from 'sparkplug-payload';
import plugin, { codec } from '../index.js';
import { codecContract, codecOf } from '../../../test/unit/plugins/codec.contract.js';
import { useExample } from '../../../test/helpers/plugin-example.js';
import { client } from '../../../test/integration/mqtt-support.js';

const spB = sparkplugPayload.get('spBv1.0')!;
const example = join(import.meta.dirname, '../example');

const DDATA = {
  timestamp: 1765000000000,
  seq: 3,
  metrics: [
    { name: 'Pressure', alias: 4, timestamp: 1765000000001, type: 'Double' as const, value: 3.25 },
    { name: 'Running', timestamp: 1765000000002, type: 'Boolean' as const, value: true },
    { name: 'Mode', timestamp: 1765000000003, type: 'String' as const, value: 'auto' },
    { name: 'Count', timestamp: 1765000000004, type: 'Int32' as const, value: -12 },
  ],
};

const DDATA_JSON = {
  timestamp: 1765000000000,
  seq: 3,
  metrics: [
    { name: 'Pressure', alias: 4, timestamp: 1765000000001, datatype: 'Double', value: 3.25 },
    { name: 'Running', timestamp: 1765000000002, datatype: 'Boolean', value: true },
    { name: 'Mode', timestamp: 1765000000003, datatype: 'String', value: 'auto' },
    // Int32 travels as its two's complement in a uint32 (Sparkplug 3.0.0 §6.4.16) and comes back signed.
    { name: 'Count', timestamp: 1765000000004, datatype: 'Int32', value: -12 },
  ],
};

describe('codec contract: application/x-sparkplug-b (plugins/sparkplug-b)', () => {
  codecContract(codecOf(plugin), {
    values: [
      { timestamp: 1765000000000, seq: 0, metrics: [{ name: 'T', datatype: 'Float', value: 1.5, timestamp: 1765000000000 }] },
      {
        metrics: [
          { name: 'a', datatype: 'Int8', value: -100 },
          { name: 'b', datatype: 'Int16', value: -30000 },
          { name: 'c', datatype: 'Int64', value: '-5' },
        ],
      },
      { seq: 255, uuid: 'u-1' },
      {},
    ],
    // A metric whose length runs past the end; a field with the reserved wire type 7.
    invalid: [new Uint8Array([0x12, 0x09, 0x0a]), new Uint8Array([0x0f])],
  });

  it('decodes what an independent Sparkplug B encoder writes', () => {
    expect(codec.decode(spB.encodePayload(DDATA))).toEqual(DDATA_JSON);
  });

  it('encodes what an independent Sparkplug B decoder reads (commands)', () => {
    const decoded = spB.decodePayload(
      codec.encode({ timestamp: 1765000000000, metrics: [{ name: 'Node Control/Rebirth', datatype: 'Boolean', value: true }] }),
    );
    expect(decoded.metrics).toEqual([expect.objectContaining({ name: 'Node Control/Rebirth', type: 'Boolean', value: true })]);
  });
});

describe('plugins/sparkplug-b end to end', () => {
  const bed = useExample(example);

  it('delivers DDATA and NBIRTH published with MQTT.js to the back-end as JSON', async () => {
    const c = await client(bed.gw.port('mqtt'), { clientId: 'edge-1', protocolVersion: 4 });
    await c.publishAsync(
      'spBv1.0/plant1/NBIRTH/edge-1',
      Buffer.from(spB.encodePayload({ timestamp: 1765000000000, seq: 0, metrics: [{ name: 'bdSeq', type: 'UInt64', value: 7 }] })),
      { qos: 0 },
    );
    await c.publishAsync('spBv1.0/plant1/DDATA/edge-1/pump-7', Buffer.from(spB.encodePayload(DDATA)), { qos: 1 });
    await bed.backend.waitFor(2);
    await c.endAsync();
    const data = bed.backend.requests.find((r) => r.url === '/sparkplug/plant1/DDATA/edge-1/pump-7')!;
    expect(data.headers['content-type']).toBe('application/json');
    expect(JSON.parse(data.body.toString())).toEqual(DDATA_JSON);
    const birth = bed.backend.requests.find((r) => r.url === '/sparkplug/plant1/NBIRTH/edge-1')!;
    expect(JSON.parse(birth.body.toString())).toEqual({ timestamp: 1765000000000, seq: 0, metrics: [{ name: 'bdSeq', datatype: 'UInt64', value: '7' }] });
  });
});
