/** plugins/protobuf: the codec contract for a message type from a .proto file, and MQTT.js publishing protobuf that a back-end receives as JSON. */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import plugin from '../index.js';
import { codecContract, codecOf } from '../../../test/unit/plugins/codec.contract.js';
import { useExample } from '../../../test/helpers/plugin-example.js';
import { client } from '../../../test/integration/mqtt-support.js';

const example = join(import.meta.dirname, '../example');

describe('codec contract: application/x-protobuf (plugins/protobuf)', () => {
  codecContract(
    codecOf(plugin),
    {
      options: { proto: 'reading.proto', message: 'acme.Reading' },
      values: [{ device: 'd1', celsius: 21.5, takenAt: '1765000000000', status: 'LOW_BATTERY', samples: [1, -2, 3] }, { device: 'only' }, {}],
      // A length-delimited field whose length runs past the end; a field with the reserved wire type 7.
      invalid: [new Uint8Array([0x0a, 0x05, 0x61]), new Uint8Array([0x0f])],
    },
    example,
  );

  it('refuses, as a configuration problem, a message type the .proto does not define', () => {
    expect(() => codecOf(plugin).create({ proto: 'reading.proto', message: 'acme.Nope' }, { baseDir: example })).toThrow(/no such type/);
  });
});

describe('plugins/protobuf end to end', () => {
  const bed = useExample(example);

  it('delivers a protobuf reading published with MQTT.js to the back-end as JSON', async () => {
    // Encoded by protobufjs independently of the plugin, from the same .proto.
    const Reading = (await protobuf.load(join(example, 'reading.proto'))).lookupType('acme.Reading');
    const bytes = Reading.encode(Reading.fromObject({ device: 'pump-4', celsius: 61.25, takenAt: 1765000000123, status: 1, samples: [7, 8] })).finish();
    const c = await client(bed.gw.port('mqtt'), { clientId: 'pump-4' });
    await c.publishAsync('readings/pump-4', Buffer.from(bytes), { qos: 1 });
    await c.endAsync();
    const req = bed.backend.requests.find((r) => r.url === '/readings/pump-4')!;
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body.toString())).toEqual({ device: 'pump-4', celsius: 61.25, takenAt: '1765000000123', status: 'LOW_BATTERY', samples: [7, 8] });
  });
});
