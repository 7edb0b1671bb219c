/**
 * plugins/cbor's CBOR → JSON fast path (to-json.js): wherever it answers, its
 * bytes are exactly the JSON codec's encode(decode(bytes)); everywhere else it
 * answers undefined and the route decodes and encodes as before.
 */
import { describe, expect, it } from 'vitest';
import { Encoder } from 'cbor-x/encode';
import plugin from '../index.js';
import { cborToJson } from '../to-json.js';
import { codecOf } from '../../../test/unit/plugins/codec.contract.js';
import { builtinRegistries } from '../../../src/plugins/builtins.js';
import { jsonSafe, transcodedBody, withDecoded } from '../../../src/routing/transcode.js';
import { ThinggateError } from '../../../src/errors.js';
import type { Codec } from '../../../src/envelope/codec.js';
import type { CompiledRoute } from '../../../src/routing/route-table.js';
import type { Envelope } from '../../../src/envelope/index.js';

const cbor = codecOf(plugin).create({}, { baseDir: '.' });
const registries = builtinRegistries();
const json = registries.codecs.get('application/json')!.create({}, { baseDir: '.' });
const enc = new Encoder({ mapsAsObjects: true, useRecords: false, structuredClone: false, variableMapSize: true });
const hex = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');

/** What the route sent before the fast path: decode + JSON encode, or the error. */
function slowPath(bytes: Uint8Array): string {
  try {
    return Buffer.from(json.encode(cbor.decode(bytes))).toString('utf8');
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

/** The fast path's answer checked against the slow path; true when it answered. */
function agrees(bytes: Uint8Array): boolean {
  const fast = cborToJson(bytes);
  if (fast === undefined) return false;
  const text = Buffer.from(fast).toString('utf8');
  const slow = slowPath(bytes);
  if (text !== slow) expect(text, `bytes ${Buffer.from(bytes).toString('hex')}`).toBe(slow);
  return true;
}

describe('plugins/cbor: CBOR straight to JSON', () => {
  it('writes what decode + encode write for the shapes it takes', () => {
    const values: unknown[] = [
      { r: 3, c: 12, s: 4711, t: 123456789012345, d: 'x'.repeat(150) },
      { device: 'sensor-1', temp: 21.5, unit: '°C', tags: ['a', 'b'], ok: true, off: false, none: null, nested: { deep: { x: -1.25 } } },
      // Every integer width, both signs (RFC 8949 §3.1: arguments of 0, 1, 2 and 4 bytes).
      [0, 1, 23, 24, 255, 256, 65535, 65536, 4294967295, -1, -24, -25, -256, -257, -65536, -65537, -4294967296],
      [0.5, -0, 1e21, 1e-7, 5e-324, Number.MAX_VALUE, 3.4028234663852886e38, 0.1, 1 / 3],
      // JSON's escapes, the two characters JSON.stringify leaves as they are, multi-byte UTF-8.
      ['"\\/\b\f\n\r\t\u0000\u0001\u001f\u007f', '\u2028\u2029', 'grüße 温度 😀', ''],
      {},
      [],
      '',
      'plain',
      42,
      true,
      null,
      { '': 1, 'a-1': 2, _proto_: 3, 'x y': 4 },
      JSON.parse(`${'['.repeat(60)}1${']'.repeat(60)}`),
    ];
    for (const v of values) expect(agrees(enc.encode(v)), JSON.stringify(v)).toBe(true);
    // Floats encoded at every precision by hand: half (0xf9), single (0xfa), double (0xfb).
    for (const h of ['f93c00', 'f97bff', 'f90001', 'f98000', 'fa47c35000', 'fa3f800001', 'fb3ff199999999999a', 'fb8000000000000000'])
      expect(agrees(hex(h)), h).toBe(true);
    // Non-finite floats are null in JSON, inside a container too.
    for (const h of ['f97c00', 'f9fc00', 'f97e00', 'fa7fc00000', 'fb7ff8000000000000', '83f97c00f9fc00f97e00']) expect(agrees(hex(h)), h).toBe(true);
  });

  it('agrees with decode + encode on half-precision floats', () => {
    const b = Buffer.from([0xf9, 0, 0]);
    // Both signs of every value with the exponents that are special (0: subnormals, 31: Infinity and NaN) or edges, and every 7th value.
    const exponentOf = (v: number) => (v >> 10) & 0x1f;
    for (let v = 0; v < 0x10000; v++) {
      if (v % 7 !== 0 && ![0, 1, 15, 30, 31].includes(exponentOf(v))) continue;
      b[1] = v >> 8;
      b[2] = v & 0xff;
      expect(agrees(b)).toBe(true);
    }
  });

  it('leaves to decode + encode what it does not take, which still decode as before', () => {
    const left: Array<[string, string]> = [
      ['tag 1 (epoch date)', 'c11a514b67b0'],
      ['tag 0 (date string)', 'c074323031332d30332d32315432303a30343a30305a'],
      ['tag 2 (bignum)', 'c249010000000000000000'],
      ['tag 259 (a Map)', 'd90103a201020304'],
      ['tag 258 (a set)', 'd9010283010203'],
      ['tag 64 (uint8 typed array)', 'd8404301020a'],
      ['tag 85 (float32 typed array, little-endian)', 'd855480000c03f0000803f'],
      ['an unknown tag', 'd8636178'],
      ['a byte string', '43010203'],
      ['a byte string in a map', 'a1616b43010203'],
      ['an integer key', 'a10102'],
      ['a float key', 'a1f93e0002'],
      ['true and null keys', 'a2f501f602'],
      ['an array key (cbor-x refuses it)', 'a1810102'],
      ['a 64-bit integer (a bigint in cbor-x)', '1b0000000000000005'],
      ['a negative 64-bit integer', '3b0000000000000005'],
      ['undefined at the top', 'f7'],
      ['undefined in a map', 'a26161f76162 01'],
      ['undefined in an array', '8201f7'],
      ['a simple value', 'f0'],
      ['an indefinite-length array', '9f0102ff'],
      ['an indefinite-length map', 'bf616101ff'],
      ['an indefinite-length text string (cbor-x refuses it)', '7f61616162ff'],
      ['a repeated key', 'a2616101616102'],
      ['an array-index key', 'a261620161310 2'],
      ['__proto__ as a key', 'a1695f5f70726f746f5f5f01'],
      ['text starting with a byte order mark', '63efbbbf'],
      ['text that is not UTF-8', '62c328'],
      ['a surrogate encoded as UTF-8', '63eda080'],
      ['trailing bytes', '0101'],
      ['a truncated map', 'a1'],
      ['a truncated string', '6461'],
      ['a reserved additional information value', '1c'],
      ['a break outside an indefinite item', 'ff'],
      ['an empty payload', ''],
    ];
    for (const [what, h] of left) {
      const bytes = hex(h);
      expect(cborToJson(bytes), what).toBeUndefined();
    }
    // Nesting past 64 levels, and maps of more than 64 keys.
    expect(cborToJson(enc.encode(JSON.parse(`${'['.repeat(70)}1${']'.repeat(70)}`)))).toBeUndefined();
    expect(cborToJson(enc.encode(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i]))))).toBeUndefined();
    expect(cborToJson(Buffer.alloc(16 * 1024 + 1, 0x00))).toBeUndefined();
  });

  it('agrees with decode + encode on random values and random bytes', () => {
    let seed = 25;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const str = () => {
      let s = '';
      for (let n = Math.floor(rnd() * 8); n > 0; n--)
        s += pick(['a', 'Z', '0', '7', '"', '\\', '\n', '\u0003', 'é', '€', '😀', '_', '__proto__', ' ', '\ufeff']);
      return s;
    };
    const value = (depth: number): unknown => {
      const k = Math.floor(rnd() * (depth > 3 ? 6 : 9));
      switch (k) {
        case 0:
          return Math.floor(rnd() * 2 ** 33) - 2 ** 32;
        case 1:
          return pick([0.5, -0, Number.NaN, Infinity, 1e300, 1.1, 65504, 2 ** 53]);
        case 2:
          return str();
        case 3:
          return pick([true, false, null, undefined]);
        case 4:
          return pick([10n ** 20n, new Uint8Array([1, 2]), new Date(0)]);
        case 5:
          return Math.floor(rnd() * 100);
        case 6:
        case 7:
          return Object.fromEntries(Array.from({ length: Math.floor(rnd() * 5) }, () => [str(), value(depth + 1)]));
        default:
          return Array.from({ length: Math.floor(rnd() * 5) }, () => value(depth + 1));
      }
    };
    let answered = 0;
    for (let i = 0; i < 3000; i++) {
      const bytes = Buffer.from(enc.encode(value(0)));
      if (agrees(bytes)) answered++;
      // The same bytes with one byte changed: whatever they now say, the fast path agrees or stays out.
      const bent = Buffer.from(bytes);
      bent[Math.floor(rnd() * bent.length)] = Math.floor(rnd() * 256);
      agrees(bent);
      // And cut short.
      if (bytes.length > 1) expect(cborToJson(bytes.subarray(0, Math.floor(rnd() * bytes.length)))).toBeUndefined();
    }
    // Most random values are the plain kind; the fast path must actually be taken.
    expect(answered).toBeGreaterThan(600);
  });

  it('leaves the payload it reads as it was', () => {
    const bytes = Buffer.from(enc.encode({ a: 'b', n: [1, 2.5] }));
    const copy = Buffer.from(bytes);
    cborToJson(bytes);
    expect(bytes.equals(copy)).toBe(true);
  });
});

describe('a route re-encoding CBOR as JSON (routing/transcode.ts)', () => {
  const codecs = registries.codecResolver('.');
  const envelope = (payload: Uint8Array) => ({ payload: Buffer.from(payload) }) as unknown as Envelope;
  const routeWith = (decoder: Codec) => ({ kind: 'static', decoder, encoder: json, codecs }) as unknown as CompiledRoute;
  const counting = () => {
    const calls = { toJson: 0, decode: 0 };
    const decoder: Codec = {
      contentType: cbor.contentType,
      decode: (b) => (calls.decode++, cbor.decode(b)),
      encode: (v) => cbor.encode(v),
      toJson: (b) => (calls.toJson++, cbor.toJson!(b)),
    };
    return { calls, route: routeWith(decoder) };
  };

  it('takes the fast path for plain CBOR and decodes + encodes the rest', () => {
    const { calls, route } = counting();
    const plain = transcodedBody(envelope(enc.encode({ t: 21.5 })), route, { action: 'route' });
    expect(plain).toEqual({ body: Buffer.from('{"t":21.5}'), contentType: 'application/json' });
    expect(calls).toEqual({ toJson: 1, decode: 0 });
    // Tag 1 (an epoch date): decoded to a Date, written as JSON.stringify writes a Date.
    const dated = transcodedBody(envelope(hex('a16174c11a514b67b0')), route, { action: 'route' });
    expect(dated?.body.toString()).toBe('{"t":"2013-03-21T20:04:00.000Z"}');
    expect(calls).toEqual({ toJson: 2, decode: 1 });
  });

  it('still answers TG_ERR_CODEC_DECODE for bytes that are not CBOR', () => {
    const { route } = counting();
    expect(() => transcodedBody(envelope(hex('a1')), route, { action: 'route' })).toThrow(ThinggateError);
    try {
      transcodedBody(envelope(hex('a1')), route, { action: 'route' });
    } catch (err) {
      expect((err as ThinggateError).code).toBe('TG_ERR_CODEC_DECODE');
    }
  });

  it('hands a script a plain decoded value as it is, and makes the others JSON-safe', () => {
    const decoded = (h: string) => (withDecoded(envelope(hex(h)), routeWith(cbor)) as { decoded?: { value: unknown } }).decoded?.value;
    // {"a": [1, "x"]}
    expect(decoded('a1616182016178')).toEqual({ a: [1, 'x'] });
    const plain = { a: [1, 'x', { b: null }] };
    expect(jsonSafe(plain)).toBe(plain); // not copied
    // {"b": h'0102', "d": 1(1363896240), "n": 2(h'010000000000000000')}
    expect(decoded('a3616242010261 64c11a514b67b0616ec249010000000000000000')).toEqual({
      b: 'AQI=',
      d: '2013-03-21T20:04:00.000Z',
      n: '18446744073709551616',
    });
  });

  it('falls back to decode + encode when a codec’s toJson throws', () => {
    const decoder: Codec = {
      ...cbor,
      toJson: () => {
        throw new Error('broken fast path');
      },
    };
    expect(transcodedBody(envelope(enc.encode([1, 'a'])), routeWith(decoder), { action: 'route' })?.body.toString()).toBe('[1,"a"]');
  });
});
