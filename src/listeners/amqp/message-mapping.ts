/**
 * AMQP 1.0 messages ⇄ thinggate's protocol-neutral shapes. Pure functions:
 * the message sections rhea decoded (AMQP 1.0 §3.2) in, plain values out.
 */
import type { DeviceMessage } from '../../devices/registry.js';
import type { Reply } from '../../envelope/index.js';

/** An AMQP message id or correlation id as rhea decodes it (ulong, uuid, binary or string; §3.2.4). */
export type AmqpMessageId = string | number | Buffer;

/** A body section as rhea decodes it: data and amqp-sequence sections arrive wrapped. */
interface RheaSection {
  readonly typecode: number;
  readonly content: unknown;
  readonly multiple?: boolean;
}

/** The fields of a decoded rhea message that thinggate reads. */
export interface AmqpMessageFields {
  to?: string;
  subject?: string;
  content_type?: string;
  content_encoding?: string;
  message_id?: AmqpMessageId;
  correlation_id?: AmqpMessageId;
  reply_to?: string;
  ttl?: number;
  absolute_expiry_time?: Date | number;
  application_properties?: Record<string, unknown>;
  body?: unknown;
}

const DATA_SECTION = 0x75;
const SEQUENCE_SECTION = 0x76;

export interface MappedBody {
  readonly payload: Buffer;
  /** Content type implied by the body section, used when the message names none. */
  readonly impliedType?: string;
}

function isSection(v: unknown): v is RheaSection {
  return typeof v === 'object' && v !== null && typeof (v as RheaSection).typecode === 'number' && 'content' in v;
}

/** Buffers in JSON become base64 strings rather than `{type:'Buffer',data:[…]}`. */
function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown> | undefined)?.[key];
  if (Buffer.isBuffer(raw)) return raw.toString('base64');
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * Body → bytes: data sections are concatenated; an amqp-value string is its
 * UTF-8 bytes (text/plain); binary is taken as is; null or no body is empty;
 * other values (numbers, booleans, maps, lists, timestamps) and amqp-sequence
 * sections are JSON (application/json).
 */
export function mapBody(body: unknown): MappedBody {
  if (body === undefined || body === null) return { payload: Buffer.alloc(0) };
  if (isSection(body)) {
    if (body.typecode === DATA_SECTION) {
      const parts = body.multiple ? (body.content as unknown[]) : [body.content];
      const bufs = parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(String(p ?? ''), 'utf8')));
      return { payload: bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs), impliedType: 'application/octet-stream' };
    }
    if (body.typecode === SEQUENCE_SECTION) {
      return { payload: Buffer.from(JSON.stringify(body.content, jsonReplacer) ?? 'null', 'utf8'), impliedType: 'application/json' };
    }
  }
  if (typeof body === 'string') return { payload: Buffer.from(body, 'utf8'), impliedType: 'text/plain; charset=utf-8' };
  if (Buffer.isBuffer(body)) return { payload: body, impliedType: 'application/octet-stream' };
  return { payload: Buffer.from(JSON.stringify(body, jsonReplacer) ?? 'null', 'utf8'), impliedType: 'application/json' };
}

/** A message or correlation id as a string: uuids in canonical form, other binary ids in hex. */
export function idToString(id: AmqpMessageId): string {
  if (Buffer.isBuffer(id)) {
    const hex = id.toString('hex');
    return id.length === 16 ? `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` : hex;
  }
  return String(id);
}

function valueToString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object' && v !== null) return JSON.stringify(v, jsonReplacer) ?? '';
  return String(v);
}

/**
 * Envelope headers: application-properties with lower-cased names and
 * string values, plus `amqp-subject`, `amqp-message-id` and
 * `amqp-content-encoding` when the message carries them.
 */
export function mapHeaders(m: AmqpMessageFields): Record<string, string> {
  const headers: Record<string, string> = {};
  const props = m.application_properties;
  if (props && typeof props === 'object') {
    for (const k of Object.keys(props)) {
      const v = props[k];
      if (v === undefined || v === null) continue;
      headers[k.toLowerCase()] = valueToString(v);
    }
  }
  if (m.subject !== undefined) headers['amqp-subject'] = m.subject;
  if (m.message_id !== undefined) headers['amqp-message-id'] = idToString(m.message_id);
  if (m.content_encoding !== undefined) headers['amqp-content-encoding'] = String(m.content_encoding);
  return headers;
}

/** Expiry from the header's ttl (§3.2.1) and properties' absolute-expiry-time (§3.2.4); the earlier wins. */
export function mapExpiry(m: AmqpMessageFields, receivedAt: number): number | undefined {
  let at: number | undefined;
  if (typeof m.ttl === 'number' && m.ttl > 0) at = receivedAt + m.ttl;
  const abs = m.absolute_expiry_time;
  const absMs = abs instanceof Date ? abs.getTime() : typeof abs === 'number' ? abs : undefined;
  if (absMs !== undefined && absMs > 0 && (at === undefined || absMs < at)) at = absMs;
  return at;
}

/** An outgoing AMQP message in the shape rhea's sender.send() encodes. */
export interface OutgoingAmqpMessage {
  to?: string;
  subject?: string;
  content_type?: string;
  correlation_id?: AmqpMessageId;
  reply_to?: string;
  ttl?: number;
  application_properties?: Record<string, string | number>;
  body: unknown;
}

/**
 * The reply to a request: the back-end's body in one data section, the
 * request's correlation-id (or, without one, its message-id) as
 * correlation-id, and the back-end status as application property `status`.
 */
export function replyMessage(
  reply: Reply,
  replyTo: string,
  correlationId: AmqpMessageId | undefined,
  dataSection: (b: Buffer) => unknown,
): OutgoingAmqpMessage {
  const props: Record<string, string | number> = { status: reply.status };
  return {
    to: replyTo,
    ...(correlationId !== undefined && { correlation_id: correlationId }),
    ...(reply.contentType !== undefined && { content_type: reply.contentType }),
    application_properties: props,
    body: dataSection(reply.payload),
  };
}

/** A message toward a device: topic as `to`, payload in one data section, headers as application-properties. */
export function deviceMessage(msg: DeviceMessage, now: number, dataSection: (b: Buffer) => unknown): OutgoingAmqpMessage {
  const out: OutgoingAmqpMessage = { to: msg.topic, body: dataSection(msg.payload) };
  if (msg.contentType !== undefined) out.content_type = msg.contentType;
  if (msg.correlationId !== undefined) out.correlation_id = msg.correlationId;
  if (msg.replyTo !== undefined) out.reply_to = msg.replyTo;
  if (msg.expiresAt !== undefined) out.ttl = Math.max(1, msg.expiresAt - now);
  if (msg.headers && Object.keys(msg.headers).length > 0) out.application_properties = { ...msg.headers };
  return out;
}
