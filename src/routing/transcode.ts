/**
 * Codecs on a route: the payload decoded ahead of a script call (what
 * `msg.decode()` returns), and bodies re-encoded for the back-end
 * (`request.encode`: CBOR in, JSON out; or a script's structured body encoded
 * as CBOR). A payload that does not decode is the device's fault (400,
 * `TG_ERR_CODEC_DECODE`); a value that does not encode is the route's or the
 * script's (500, `TG_ERR_CODEC_ENCODE`).
 */
import type { Codec, DecodedPayload } from '../envelope/codec.js';
import { decodedInIsolate, isPlainJson } from '../envelope/codec.js';
import type { Envelope } from '../envelope/index.js';
import { ThinggateError } from '../errors.js';
import type { RouteDecision } from './decision.js';
import type { CompiledRoute } from './route-table.js';

const JSON_TYPE = 'application/json';

/** What decoding needs of a route (a dry run builds just this). */
export type CodecRoute = Pick<CompiledRoute, 'decoder' | 'codecs'>;

/** The codec that reads this message on this route: the route's `decode`, else the one its content type names. */
function decoderFor(env: Envelope, route: CodecRoute): Codec | undefined {
  return route.decoder ?? (env.contentType !== undefined ? route.codecs?.forContentType(env.contentType) : undefined);
}

/**
 * The envelope a script sees: with `decoded` when a codec other than those the
 * isolate applies itself (JSON, text, bytes) reads the payload. The value is
 * made JSON-safe here (bytes as base64, big integers as strings), since it
 * crosses into the isolate as JSON.
 */
export function withDecoded(env: Envelope, route: CodecRoute): Envelope {
  if (route.decoder === undefined && (env.contentType === undefined || decodedInIsolate(env.contentType))) return env;
  const codec = decoderFor(env, route);
  if (!codec) return env;
  let decoded: DecodedPayload;
  try {
    decoded = { value: jsonSafe(codec.decode(env.payload)) };
  } catch (err) {
    decoded = { error: `payload is not valid ${codec.contentType}: ${(err as Error).message}` };
  }
  return Object.freeze({ ...env, decoded });
}

/** The body and content type the back-end gets when a codec is involved; undefined when none is (the body goes as it is). */
export function transcodedBody(env: Envelope, route: CompiledRoute, d: RouteDecision): { body: Buffer; contentType: string } | undefined {
  const encoder = route.encoder;
  if (d.body !== undefined) {
    // A body declared as JSON — a script's structured value arrives as JSON text with that content type
    // (scripting/validate.ts) — is re-encoded with the route's codec; any other body goes as it is.
    if (!encoder || encoder.contentType === JSON_TYPE || !Buffer.isBuffer(d.body) || d.headers?.['content-type'] !== JSON_TYPE) return undefined;
    return encode(encoder, JSON.parse((d.body as Buffer).toString('utf8')));
  }
  // A static route (or a script route whose decision keeps the payload) with a codec: decode, then encode (JSON by default).
  if (!encoder && (route.decoder === undefined || route.kind === 'script')) return undefined;
  const decoder = decoderFor(env, route);
  if (!decoder) {
    throw new ThinggateError('TG_ERR_CODEC_DECODE', `no codec decodes content type '${env.contentType ?? 'none'}' (set the route's decode)`, { status: 415 });
  }
  const target = encoder ?? route.codecs?.forContentType(JSON_TYPE);
  if (!target) throw new ThinggateError('TG_ERR_CODEC_ENCODE', 'no JSON codec registered', { status: 500 });
  // Payload to JSON in one pass where the codec can (same bytes as decode + encode; see Codec.toJson).
  if (target.contentType === JSON_TYPE && decoder.toJson !== undefined) {
    const text = fastJson(decoder, env.payload);
    if (text !== undefined) return { body: asBuffer(text), contentType: JSON_TYPE };
  }
  let value: unknown;
  try {
    value = decoder.decode(env.payload);
  } catch (err) {
    throw new ThinggateError('TG_ERR_CODEC_DECODE', `payload is not valid ${decoder.contentType}: ${(err as Error).message}`, { status: 400, cause: err });
  }
  return encode(target, value);
}

/** A codec's toJson; one that throws (against its contract) leaves the payload to decode + encode, which report the error. */
function fastJson(codec: Codec, payload: Uint8Array): Uint8Array | undefined {
  try {
    return codec.toJson!(payload);
  } catch {
    return undefined;
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function encode(codec: Codec, value: unknown): { body: Buffer; contentType: string } {
  try {
    return { body: asBuffer(codec.encode(value)), contentType: codec.contentType };
  } catch (err) {
    throw new ThinggateError('TG_ERR_CODEC_ENCODE', `body cannot be encoded as ${codec.contentType}: ${(err as Error).message}`, { status: 500, cause: err });
  }
}

/**
 * A decoded value as JSON can carry it: bytes → base64, bigint → decimal string, Map → object, Date → ISO string.
 * A value that is plain already (the usual decoded payload) is returned as it is, not copied.
 */
export function jsonSafe(v: unknown): unknown {
  return isPlainJson(v) ? v : toJsonSafe(v);
}

function toJsonSafe(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? v.toString() : v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(toJsonSafe);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), toJsonSafe(x)]));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = toJsonSafe((v as Record<string, unknown>)[k]);
  return out;
}
