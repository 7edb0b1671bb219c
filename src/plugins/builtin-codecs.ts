/**
 * The built-in codecs: JSON (RFC 8259), UTF-8 text and raw bytes. Plugins add
 * others (plugins/cbor, plugins/protobuf, plugins/sparkplug-b).
 */
import type { Codec } from '../envelope/codec.js';
import type { CodecContribution } from './api.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** What JSON cannot carry as it is: bytes as base64, big integers as decimal strings. */
function jsonReplacer(_key: string, v: unknown): unknown {
  return v instanceof Uint8Array ? Buffer.from(v).toString('base64') : typeof v === 'bigint' ? v.toString() : v;
}

/** Nesting past which `plainJson` stops looking and the replacer path decides (it also reports cycles). */
const PLAIN_DEPTH = 64;

/**
 * True when `v` holds only plain objects, arrays, strings, numbers, booleans,
 * null and undefined: no value the replacer would change and no `toJSON`, so
 * JSON.stringify without a replacer gives the same text. A replacer makes V8
 * call back into JavaScript for every key and leave its fast serializer, so
 * this walk costs much less than it saves.
 */
function plainJson(v: unknown, depth: number): boolean {
  if (v === null) return true;
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean' || t === 'undefined') return true;
  if (t !== 'object' || depth > PLAIN_DEPTH) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === Array.prototype) {
    const a = v as readonly unknown[];
    for (let i = 0; i < a.length; i++) if (!plainJson(a[i], depth + 1)) return false;
    return true;
  }
  if (proto !== Object.prototype && proto !== null) return false;
  const o = v as Record<string, unknown>;
  for (const k in o) if (!plainJson(o[k], depth + 1)) return false;
  return true;
}

const json: Codec = {
  contentType: 'application/json',
  decode: (bytes) => JSON.parse(utf8.decode(bytes)) as unknown,
  encode(value) {
    const text = plainJson(value, 0) ? JSON.stringify(value) : JSON.stringify(value, jsonReplacer);
    if (text === undefined) throw new TypeError(`${typeof value} cannot be encoded as JSON`);
    return Buffer.from(text, 'utf8');
  },
};

const text: Codec = {
  contentType: 'text/plain; charset=utf-8',
  decode: (bytes) => utf8.decode(bytes),
  encode(value) {
    if (typeof value !== 'string') throw new TypeError(`text/plain encodes strings, not ${typeof value}`);
    return Buffer.from(value, 'utf8');
  },
};

const octets: Codec = {
  contentType: 'application/octet-stream',
  decode: (bytes) => Uint8Array.from(bytes),
  encode(value) {
    if (!(value instanceof Uint8Array)) throw new TypeError('application/octet-stream encodes bytes (Uint8Array) only');
    return value;
  },
};

export const BUILTIN_CODECS: readonly CodecContribution[] = [json, text, octets].map((c) => ({
  name: c.contentType.split(';', 1)[0]!,
  create: () => c,
}));
