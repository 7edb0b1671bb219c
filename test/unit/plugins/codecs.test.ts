/** The codec contract over every built-in codec (plugins run it in their own folders). */
import { describe, expect, it } from 'vitest';
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

describe('application/json: encode', () => {
  const json = BUILTIN_CODECS.find((c) => c.name === 'application/json')!.create({}, { baseDir: '.' });
  // What encode wrote when every value went through the replacer (bytes as base64, big integers as decimal strings).
  const withReplacer = (v: unknown) =>
    JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? Buffer.from(x).toString('base64') : typeof x === 'bigint' ? x.toString() : x));

  it('writes the same text whether or not a value needs the replacer', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const deep: unknown[] = [];
    let at = deep;
    for (let i = 0; i < 100; i++) at.push((at = []));
    at.push(1n);
    const values: unknown[] = [
      { a: 1, b: [true, null, 'x', { c: -0, d: Number.NaN, e: Infinity }], u: undefined },
      // biome-ignore lint/suspicious/noSparseArray: a hole is what this checks
      [undefined, , 3],
      Object.assign(Object.create(null), { bare: 1 }),
      { bytes: new Uint8Array([1, 2, 255]), big: 12345678901234567890n, nested: [{ b: new Uint8Array(0) }] },
      { buffer: Buffer.from('hi') },
      { when: new Date(0), map: new Map([[1, 2]]), set: new Set([1]), floats: new Float32Array([1.5]) },
      { point: new Point(1, 2), wrapped: Object('s') },
      { custom: { toJSON: () => 7n } },
      deep,
      'text',
      21.5,
      null,
      7n,
      new Uint8Array([9]),
    ];
    for (const v of values) expect(Buffer.from(json.encode(v)).toString('utf8')).toBe(withReplacer(v));
  });

  it('still refuses what JSON cannot write', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => json.encode(cyclic)).toThrow(TypeError);
    expect(() => json.encode(undefined)).toThrow(TypeError);
    expect(() => json.encode(() => 1)).toThrow(TypeError);
  });
});
