/** The codec contract over plugins/cbor, and interoperability with hand-made RFC 8949 bytes. */
import { describe, expect, it } from 'vitest';
import plugin from '../index.js';
import { codecContract, codecOf } from '../../../test/unit/plugins/codec.contract.js';

describe('codec contract: application/cbor (plugins/cbor)', () => {
  codecContract(codecOf(plugin), {
    values: [{ celsius: 21.5, seq: 7, tags: ['a', 'b'], ok: true, none: null }, 'text', -3, [1, [2, [3]]], { nested: { deep: { x: 1.25 } } }],
    // A map header announcing one pair with nothing after it; a reserved additional-information value (RFC 8949 §3).
    invalid: [new Uint8Array([0xa1]), new Uint8Array([0x1c])],
  });

  it('decodes bytes other CBOR encoders make (RFC 8949 Appendix A)', () => {
    const codec = codecOf(plugin).create({}, { baseDir: '.' });
    // {"a": 1, "b": [2, 3]}
    expect(codec.decode(new Uint8Array([0xa2, 0x61, 0x61, 0x01, 0x61, 0x62, 0x82, 0x02, 0x03]))).toEqual({ a: 1, b: [2, 3] });
    // A plain object encodes as a definite-length map, not cbor-x's record extension.
    expect(Buffer.from(codec.encode({ a: 1 })).toString('hex')).toBe('a1616101');
  });
});
