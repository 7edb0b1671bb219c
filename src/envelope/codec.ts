/**
 * The codec extension point: turn a payload of one media type into a
 * structured value and back. Routes decode payloads with a codec (scripts see
 * the value through `msg.decode()`) and may re-encode a body with another one
 * for the back-end (CBOR in, JSON out). Every codec passes the shared contract
 * suite in test/unit/plugins/codec.contract.ts.
 */
export interface Codec {
  /** The media type this codec reads and writes (the `content-type` sent with an encoded body). */
  readonly contentType: string;
  /** Decodes a payload. Throws on bytes that are not a valid value of the media type. */
  decode(bytes: Uint8Array): unknown;
  /** Encodes a value. Throws on a value the media type cannot carry. */
  encode(value: unknown): Uint8Array;
  /**
   * Optional fast path for a route that re-encodes payloads as JSON: the
   * payload straight as JSON text, byte for byte what the built-in JSON
   * codec's `encode(this.decode(bytes))` gives, without building the value.
   * Returns undefined (never throws) where it does not answer — any payload it
   * does not handle, valid or not — and the caller then decodes and encodes.
   */
  toJson?(bytes: Uint8Array): Uint8Array | undefined;
}

/** Lower-cased media type without parameters: the key codecs are registered under. */
export function mediaTypeKey(contentType: string): string {
  return contentType.split(';', 1)[0]!.trim().toLowerCase();
}

/** A payload as a codec decoded it ahead of a script call (`msg.decode()` reads it), or why it could not. */
export type DecodedPayload = { readonly value: unknown } | { readonly error: string };

/** How the routing stage finds codecs: by a route's reference (with options) or by a message's content type. */
export interface CodecResolver {
  /** The codec a route names (`decode`, `request.encode`); throws when it cannot be built (a missing .proto file). */
  resolve(ref: string | (Readonly<Record<string, unknown>> & { readonly type: string })): Codec;
  /** The codec registered for a content type, built with no options; undefined when none is. */
  forContentType(contentType: string): Codec | undefined;
}

/** Content types whose values a script reads itself (`msg.json()`, `msg.text()`, `msg.payload`): nothing to decode ahead. */
export function decodedInIsolate(contentType: string): boolean {
  const key = mediaTypeKey(contentType);
  return key === 'application/json' || key === 'text/plain' || key === 'application/octet-stream';
}

/** Nesting past which `isPlainJson` stops looking and answers false (the general path then also reports cycles). */
const PLAIN_DEPTH = 64;

/**
 * True when `v` holds only plain objects, arrays, strings, numbers, booleans,
 * null and undefined: nothing a replacer or `toJSON` would change, so
 * JSON.stringify needs no replacer for it (the JSON codec), and it crosses
 * into an isolate as it is (routing/transcode.ts). A replacer makes V8 call
 * back into JavaScript for every key and leave its fast serializer, so this
 * walk costs much less than it saves. Nesting over 64 answers false.
 */
export function isPlainJson(v: unknown): boolean {
  return plainJson(v, 0);
}

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
