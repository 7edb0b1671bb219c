/** The codec contract over every built-in codec (plugins run it in their own folders). */
import { describe } from 'vitest';
import { BUILTIN_CODECS } from '../../../src/plugins/builtin-codecs.js';
import { codecContract, type CodecSamples } from './codec.contract.js';

const SAMPLES: Record<string, CodecSamples> = {
  'application/json': { values: [{ a: 1, b: [true, null, 'x'] }, 'text', 21.5, [], null], invalid: [Buffer.from('{"a":'), Buffer.from([0xff, 0xfe])] },
  'text/plain': { values: ['', 'grüße', 'line\nbreak'], invalid: [Buffer.from([0xc3, 0x28])] },
  'application/octet-stream': { values: [new Uint8Array([0, 1, 255]), new Uint8Array(0)], invalid: [] },
};

for (const contribution of BUILTIN_CODECS) {
  describe(`codec contract: ${contribution.name}`, () => codecContract(contribution, SAMPLES[contribution.name]!));
}
