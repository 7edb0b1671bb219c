/**
 * The built-in codecs: JSON (RFC 8259), UTF-8 text and raw bytes. Plugins add
 * others (plugins/cbor, plugins/protobuf, plugins/sparkplug-b).
 */
import { isPlainJson, type Codec } from '../envelope/codec.js';
import type { CodecContribution } from './api.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** What JSON cannot carry as it is: bytes as base64, big integers as decimal strings. */
function jsonReplacer(_key: string, v: unknown): unknown {
  return v instanceof Uint8Array ? Buffer.from(v).toString('base64') : typeof v === 'bigint' ? v.toString() : v;
}

const json: Codec = {
  contentType: 'application/json',
  decode: (bytes) => JSON.parse(utf8.decode(bytes)) as unknown,
  encode(value) {
    const text = isPlainJson(value) ? JSON.stringify(value) : JSON.stringify(value, jsonReplacer);
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
