/**
 * CBOR (RFC 8949) straight to JSON text (RFC 8259), for the codec's `toJson`:
 * a static route that sends CBOR payloads on as JSON needs the text, not the
 * value, so the bytes are read once and the JSON written as they are read.
 *
 * It is a fast path, not a second decoder: it answers only where its bytes are
 * exactly what the JSON codec makes of cbor-x's decoded value, and returns
 * undefined everywhere else, where the caller decodes and encodes as before
 * (so the result, or the error, is theirs). It takes definite-length maps with
 * text keys, arrays, text strings, integers up to 32 bits, floats, true, false
 * and null. It leaves to decode + encode: tags (dates, big numbers, typed
 * arrays), byte strings, 64-bit integers (big integers in cbor-x), undefined
 * and other simple values, indefinite lengths, map keys that are not text, and
 * map keys a JavaScript object would reorder, rename or merge (array-index
 * keys, `__proto__`, duplicates), text that is not valid UTF-8 or starts with
 * a byte order mark (TextDecoder drops it), nesting deeper than 64, and
 * payloads over 16 KiB.
 */
import { isUtf8 } from 'node:buffer';

const MAX_INPUT = 16 * 1024;
const MAX_DEPTH = 64;
/** Keys per map compared for duplicates; a larger map takes decode + encode. */
const MAX_KEYS = 64;
const KEY_STACK = 1024;

/** Per ASCII byte: 0 copied as it is, 1 written as \u00XX, else the letter after a backslash (JSON.stringify's escapes). */
const ESCAPE = new Uint8Array(128);
for (let b = 0; b < 0x20; b++) ESCAPE[b] = 1;
for (const [b, c] of /** @type {Array<[number, string]>} */ ([
  [0x08, 'b'],
  [0x09, 't'],
  [0x0a, 'n'],
  [0x0c, 'f'],
  [0x0d, 'r'],
  [0x22, '"'],
  [0x5c, '\\'],
]))
  ESCAPE[b] = c.charCodeAt(0);
const HEX = Buffer.from('0123456789abcdef', 'latin1');

// One transcoding at a time (it is synchronous): the state lives here, not in objects per call.
/** The JSON written so far; a transcoding needs at most 8 bytes per input byte (`false` from 0xf4, `\u0001` from 0x01) and 16 more. */
let out = Buffer.allocUnsafeSlow(8 * 1024);
let o = 0;
/** @type {Uint8Array} */
let src = out;
let pos = 0;
let end = 0;
/** What is left of cbor-x's array allocation budget (its checkedRead): the summed array lengths may not exceed the input's length. */
let budget = 0;
/** The keys of the maps being written, as offsets into `src` (a stack: one base per open map). */
const keyAt = new Int32Array(KEY_STACK);
const keyLen = new Int32Array(KEY_STACK);
let keyTop = 0;
/** Big-endian float bytes are copied here and read back (no DataView per payload). */
const floatBytes = new DataView(new ArrayBuffer(8));

/**
 * The JSON text the JSON codec would make of `decode(bytes)`, or undefined
 * when this fast path does not answer for these bytes (see above).
 * @param {Uint8Array} bytes
 * @returns {Buffer | undefined}
 */
export function cborToJson(bytes) {
  const n = bytes.length;
  if (n === 0 || n > MAX_INPUT) return undefined;
  if (out.length < 8 * n + 16) out = Buffer.allocUnsafeSlow(8 * n + 16);
  src = bytes;
  end = n;
  pos = 0;
  o = 0;
  budget = n;
  keyTop = 0;
  const ok = item(0) && pos === end;
  src = out;
  if (!ok) return undefined;
  const body = Buffer.allocUnsafe(o);
  out.copy(body, 0, 0, o);
  return body;
}

/**
 * One data item at `pos`, written to `out`; false when the fast path does not take it.
 * @param {number} depth
 * @returns {boolean}
 */
function item(depth) {
  if (pos >= end) return false;
  const initial = src[pos++];
  const major = initial >> 5;
  const info = initial & 0x1f;
  if (major === 7) return simple(info);
  const arg = argument(info);
  if (arg < 0) return false;
  switch (major) {
    case 0:
      writeUint(arg);
      return true;
    case 1:
      out[o++] = 0x2d; // -1 - arg
      writeUint(arg + 1);
      return true;
    case 3:
      return text(arg);
    case 4:
      return array(arg, depth);
    case 5:
      return map(arg, depth);
    default:
      return false; // byte strings (the JSON codec writes a Buffer in its toJSON form) and tags
  }
}

/**
 * The argument after an initial byte (RFC 8949 §3): its value, or -1 for
 * what the fast path leaves alone — 64-bit arguments (cbor-x reads those
 * integers as big integers), indefinite lengths, reserved values — and for
 * bytes cut short.
 * @param {number} info the initial byte's low five bits
 */
function argument(info) {
  if (info < 24) return info;
  const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : 0;
  if (size === 0 || pos + size > end) return -1;
  let v = 0;
  for (let i = 0; i < size; i++) v = v * 256 + src[pos + i];
  pos += size;
  return v;
}

/**
 * Major type 7: false, true, null and floats; undefined and the other simple values are left to decode + encode.
 * @param {number} info
 */
function simple(info) {
  switch (info) {
    case 20:
      return ascii('false');
    case 21:
      return ascii('true');
    case 22:
      return ascii('null');
    case 25:
    case 26:
    case 27:
      return float(1 << (info - 24));
    default:
      return false;
  }
}

/**
 * A float of 2, 4 or 8 bytes (RFC 8949 §3.3), big-endian.
 * @param {number} size
 */
function float(size) {
  if (pos + size > end) return false;
  if (size === 2) number(float16(src[pos], src[pos + 1]));
  else {
    for (let i = 0; i < size; i++) floatBytes.setUint8(i, src[pos + i]);
    number(size === 4 ? floatBytes.getFloat32(0) : floatBytes.getFloat64(0));
  }
  pos += size;
  return true;
}

/**
 * A half-precision float (RFC 8949 Appendix D), as cbor-x reads it.
 * @param {number} byte0
 * @param {number} byte1
 */
function float16(byte0, byte1) {
  const exponent = (byte0 & 0x7f) >> 2;
  if (exponent === 0x1f) {
    if (byte1 || byte0 & 3) return Number.NaN;
    return byte0 & 0x80 ? -Infinity : Infinity;
  }
  const mantissa = ((byte0 & 3) << 8) | byte1;
  const abs = exponent === 0 ? mantissa / (1 << 24) : (1 + mantissa / 1024) * 2 ** (exponent - 15);
  return byte0 & 0x80 ? -abs : abs;
}

/**
 * A number as JSON.stringify writes it: non-finite numbers as null.
 * @param {number} v
 */
function number(v) {
  if (!Number.isFinite(v)) ascii('null');
  else ascii(String(v));
}

/** @param {string} s */
function ascii(s) {
  for (let i = 0; i < s.length; i++) out[o++] = s.charCodeAt(i);
  return true;
}

/**
 * 0 ≤ v ≤ 2^32, in decimal.
 * @param {number} v
 */
function writeUint(v) {
  const start = o;
  do {
    const q = Math.floor(v / 10);
    out[o++] = 0x30 + (v - q * 10);
    v = q;
  } while (v > 0);
  for (let i = start, j = o - 1; i < j; i++, j--) {
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
}

/**
 * A text string of `len` bytes at `pos`, as a JSON string: the UTF-8 copied, ASCII escaped as JSON.stringify escapes it.
 * @param {number} len
 */
function text(len) {
  if (len > end - pos) return false;
  const s = pos;
  const e = pos + len;
  // cbor-x reads text over 64 bytes with TextDecoder, which drops a leading byte order mark.
  if (len >= 3 && src[s] === 0xef && src[s + 1] === 0xbb && src[s + 2] === 0xbf) return false;
  // Locals in the loop: the module's `let`s are context slots, slower to read and write per byte.
  const from = src;
  const to = out;
  let w = o;
  to[w++] = 0x22;
  let wide = false;
  for (let i = s; i < e; i++) {
    const b = from[i];
    if (b >= 0x80) {
      wide = true;
      to[w++] = b;
      continue;
    }
    const esc = ESCAPE[b];
    if (esc === 0) to[w++] = b;
    else if (esc === 1) {
      to[w++] = 0x5c;
      to[w++] = 0x75; // \u00XX
      to[w++] = 0x30;
      to[w++] = 0x30;
      to[w++] = HEX[b >> 4];
      to[w++] = HEX[b & 15];
    } else {
      to[w++] = 0x5c;
      to[w++] = esc;
    }
  }
  o = w;
  // Invalid UTF-8 decodes to U+FFFD in cbor-x; only valid text is copied as it is.
  if (wide && !isUtf8(src.subarray(s, e))) return false;
  out[o++] = 0x22;
  pos = e;
  return true;
}

/**
 * @param {number} len
 * @param {number} depth
 */
function array(len, depth) {
  if (depth >= MAX_DEPTH || len > end - pos || (budget -= len) < 0) return false;
  out[o++] = 0x5b;
  for (let i = 0; i < len; i++) {
    if (i > 0) out[o++] = 0x2c;
    if (!item(depth + 1)) return false;
  }
  out[o++] = 0x5d;
  return true;
}

/**
 * A map with text keys as a JSON object, when a JavaScript object keeps its keys as they are and in their order.
 * @param {number} len
 * @param {number} depth
 */
function map(len, depth) {
  if (depth >= MAX_DEPTH || len > MAX_KEYS) return false;
  const base = keyTop;
  out[o++] = 0x7b;
  for (let i = 0; i < len; i++) {
    if (i > 0) out[o++] = 0x2c;
    if (pos >= end) return false;
    const initial = src[pos];
    if (initial >> 5 !== 3) return false; // cbor-x turns other keys into strings its own way
    pos++;
    const klen = argument(initial & 0x1f);
    if (klen < 0) return false;
    if (klen > end - pos || keyTop >= KEY_STACK) return false;
    // Array-index keys ("0", "42") come first in an object whatever their order; cbor-x renames __proto__.
    if (klen > 0 && src[pos] >= 0x30 && src[pos] <= 0x39) return false;
    if (klen === 9 && isProto(pos)) return false;
    // A repeated key keeps its first place in an object and its last value.
    for (let k = base; k < keyTop; k++) if (keyLen[k] === klen && sameBytes(keyAt[k], pos, klen)) return false;
    keyAt[keyTop] = pos;
    keyLen[keyTop++] = klen;
    if (!text(klen)) return false;
    out[o++] = 0x3a;
    if (!item(depth + 1)) return false;
  }
  keyTop = base;
  out[o++] = 0x7d;
  return true;
}

const PROTO = Buffer.from('__proto__', 'latin1');
/** @param {number} at */
function isProto(at) {
  for (let i = 0; i < 9; i++) if (src[at + i] !== PROTO[i]) return false;
  return true;
}

/**
 * @param {number} a
 * @param {number} b
 * @param {number} len
 */
function sameBytes(a, b, len) {
  for (let i = 0; i < len; i++) if (src[a + i] !== src[b + i]) return false;
  return true;
}
