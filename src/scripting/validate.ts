/**
 * Host-side check of decisions copied out of an isolate. The prelude already
 * reduced them to plain objects of primitives, bytes and string maps; here
 * every field's type and range is checked before the pipeline acts on it.
 */
import type { Decision, RouteDecision } from '../routing/decision.js';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const UNSAFE_PATH = /[\s\x00-\x1f\x7f]/;

type Raw = Record<string, unknown>;

/** Thrown (internally) for a malformed decision; becomes TG_ERR_SCRIPT_INVALID_DECISION. */
export class InvalidDecision extends Error {}

function str(d: Raw, k: string, required = false): string | undefined {
  const v = d[k];
  if (v === undefined) {
    if (required) throw new InvalidDecision(`${String(d.action)}(): '${k}' is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new InvalidDecision(`${String(d.action)}(): '${k}' must be a string`);
  return v;
}

function int(d: Raw, k: string, min: number, max: number): number | undefined {
  const v = d[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidDecision(`${String(d.action)}(): '${k}' must be an integer from ${min} to ${max}`);
  }
  return v;
}

function bool(d: Raw, k: string): boolean | undefined {
  const v = d[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new InvalidDecision(`${String(d.action)}(): '${k}' must be a boolean`);
  return v;
}

function headers(d: Raw): Record<string, string> | undefined {
  const h = d.headers as Record<string, string> | undefined;
  if (h === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (!TOKEN.test(k)) throw new InvalidDecision(`${String(d.action)}(): header name '${k}' is not a valid token`);
    if (!HEADER_VALUE.test(v)) throw new InvalidDecision(`${String(d.action)}(): header '${k}' has a control character`);
    out[k.toLowerCase()] = v;
  }
  return out;
}

/** Bytes beside a call's results, referred to as `{"$bin": index}`. */
type Bins = readonly Uint8Array[];

/** A payload the prelude marked as JSON text becomes bytes with a JSON content type; a `$bin` reference becomes its bytes. */
function bytes(d: Raw, k: string, bins: Bins): unknown {
  const v = d[k];
  if (d.json === true && typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v !== null && typeof v === 'object') {
    const b = bins[(v as { $bin?: number }).$bin ?? -1];
    if (!b) throw new InvalidDecision(`${String(d.action)}(): '${k}' is not bytes, a string or a JSON value`);
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  }
  return v;
}

function one(d: Raw, bins: Bins): Decision {
  switch (d.action) {
    case 'route': {
      const method = str(d, 'method');
      if (method !== undefined && !TOKEN.test(method)) throw new InvalidDecision(`route(): method '${method}' is not a valid HTTP method`);
      const path = str(d, 'path');
      if (path !== undefined && (path.charCodeAt(0) !== 0x2f || UNSAFE_PATH.test(path))) {
        throw new InvalidDecision(`route(): path must start with '/' and contain no spaces or control characters`);
      }
      let h = headers(d);
      if (d.json === true && (h === undefined || h['content-type'] === undefined)) h = { ...h, 'content-type': 'application/json' };
      const pool = str(d, 'pool');
      if (pool === '') throw new InvalidDecision(`route(): pool must not be empty`);
      const key = str(d, 'key');
      const reply = bool(d, 'reply');
      // Built by assignment: this runs for every routed message.
      const out: { -readonly [K in keyof RouteDecision]: RouteDecision[K] } = { action: 'route' };
      if (pool !== undefined) out.pool = pool;
      if (method !== undefined) out.method = method.toUpperCase();
      if (path !== undefined) out.path = path;
      if (h !== undefined) out.headers = h;
      if (d.body !== undefined) out.body = bytes(d, 'body', bins);
      if (key !== undefined) out.key = key;
      if (reply !== undefined) out.reply = reply;
      return out;
    }
    case 'reply': {
      const code = int(d, 'code', 200, 599);
      const contentType = str(d, 'contentType') ?? (d.json === true ? 'application/json' : undefined);
      return {
        action: 'reply',
        payload: bytes(d, 'payload', bins),
        ...(contentType !== undefined && { contentType }),
        ...(code !== undefined && { code }),
      };
    }
    case 'drop': {
      const reason = str(d, 'reason');
      return reason === undefined ? { action: 'drop' } : { action: 'drop', reason };
    }
    case 'reject': {
      const reason = str(d, 'reason', true)!;
      const code = int(d, 'code', 400, 499);
      return code === undefined ? { action: 'reject', reason } : { action: 'reject', reason, code };
    }
    case 'publish': {
      const topic = str(d, 'topic', true)!;
      // A publication names one topic; wildcards belong to subscriptions [MQTT-3.3.2-2].
      if (topic === '' || /[+#\u0000]/.test(topic)) throw new InvalidDecision(`publish(): topic '${topic}' must be non-empty and have no wildcards`);
      const qos = int(d, 'qos', 0, 2) as 0 | 1 | 2 | undefined;
      const retain = bool(d, 'retain');
      const h = headers(d);
      const contentType = str(d, 'contentType') ?? (d.json === true ? 'application/json' : undefined);
      return {
        action: 'publish',
        topic,
        payload: bytes(d, 'payload', bins),
        ...(qos !== undefined && { qos }),
        ...(retain !== undefined && { retain }),
        ...(h !== undefined && { headers: h }),
        ...(contentType !== undefined && { contentType }),
      };
    }
    case 'command': {
      const clientId = str(d, 'clientId', true)!;
      if (clientId === '') throw new InvalidDecision('command(): clientId must not be empty');
      const address = str(d, 'address');
      if (address !== undefined && (address === '' || /[+#\u0000]/.test(address)))
        throw new InvalidDecision(`command(): address '${address}' must be non-empty and have no wildcards`);
      const qos = int(d, 'qos', 0, 2) as 0 | 1 | 2 | undefined;
      const ttlMs = int(d, 'ttlMs', 1, Number.MAX_SAFE_INTEGER);
      const contentType = str(d, 'contentType') ?? (d.json === true ? 'application/json' : undefined);
      return {
        action: 'command',
        clientId,
        payload: bytes(d, 'payload', bins),
        ...(address !== undefined && { address }),
        ...(qos !== undefined && { qos }),
        ...(ttlMs !== undefined && { ttlMs }),
        ...(contentType !== undefined && { contentType }),
      };
    }
    default:
      throw new InvalidDecision(`unknown action '${String(d.action)}'`);
  }
}

/**
 * What a raw decision carries, measured as the prelude measures it (a string
 * its length, bytes their byteLength, header names and values alike): the
 * host's own check of `scripts.maxDecisionBytes` on what it received.
 */
function carried(d: Raw, bins: Bins): number {
  let n = 0;
  for (const k in d) {
    const v = d[k];
    if (typeof v === 'string') n += v.length;
    else if (v !== null && typeof v === 'object') {
      const b = (v as { $bin?: unknown }).$bin;
      if (typeof b === 'number') n += bins[b]?.byteLength ?? 0;
      else for (const [hk, hv] of Object.entries(v as Record<string, unknown>)) n += hk.length + (typeof hv === 'string' ? hv.length : 0);
    }
  }
  return n;
}

function bounded(raw: readonly Raw[], bins: Bins, maxBytes: number): void {
  let n = 0;
  for (const d of raw) if (d !== null && typeof d === 'object') n += carried(d, bins);
  if (n > maxBytes) throw new InvalidDecision(`the decisions of one message carry ${n} bytes, more than ${maxBytes} (scripts.maxDecisionBytes)`);
}

/** Checks decisions; throws InvalidDecision naming the first problem. */
export function validateDecisions(raw: unknown, bins: Bins = [], maxBytes = Infinity): Decision[] {
  if (!Array.isArray(raw)) throw new InvalidDecision('decisions must be a list');
  if (maxBytes !== Infinity) bounded(raw as Raw[], bins, maxBytes);
  return raw.map((d) => one(d as Raw, bins));
}

/** One reply/reject decision from `onResponse`. */
export function validateOne(raw: unknown, bins: Bins = [], maxBytes = Infinity): Decision {
  if (maxBytes !== Infinity && raw !== null && typeof raw === 'object') bounded([raw as Raw], bins, maxBytes);
  return one(raw as Raw, bins);
}
