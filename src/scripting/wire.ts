/**
 * Envelopes and responses as they are copied into an isolate: flat arrays of
 * primitives (cheaper to copy than objects), with the payload as its own
 * bytes (a Buffer slice of a shared pool would otherwise copy the whole pool).
 */
import type { Envelope } from '../envelope/index.js';
import type { ClientInfo } from '../envelope/index.js';
import type { ScriptResponse } from '../routing/script-host.js';

/** The fields all messages of one connection share, as isolate/prelude.js receives them. */
export type WireSource = [
  protocol: Envelope['protocol'],
  listener: string,
  clientId: string,
  identity: { principal: string; method: NonNullable<Envelope['source']['identity']>['method']; attributes: Record<string, string> } | null,
  tls: NonNullable<Envelope['source']['tls']> | null,
];

/** One message as isolate/prelude.js receives it; the payload travels separately, its length in slot 8. */
export type WireMessage = [
  id: string,
  source: number,
  address: string,
  method: string,
  headers: Envelope['headers'],
  contentType: string | null,
  delivery: Envelope['delivery'],
  receivedAt: number,
  payloadLength: number,
  correlationId: string | null,
  replyTo: string | null,
  // msg.decode(): [0, value] decoded by the route's codec, [1, reason] when it failed, null when the isolate decodes itself.
  decoded: [0, unknown] | [1, string] | null,
];

/** A back-end's response as `onResponse` receives it. */
export type WireResponse = [status: number, headers: Record<string, string>, body: Uint8Array];

/** Bytes that own their ArrayBuffer exactly. */
export function ownBytes(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b);
}

function sourceWire(env: Envelope): WireSource {
  const id = env.source.identity;
  return [
    env.protocol,
    env.listener,
    env.source.clientId,
    id ? { principal: id.principal, method: id.method, attributes: { ...id.attributes } } : null,
    env.source.tls ?? null,
  ];
}

function messageWire(env: Envelope, source: number): WireMessage {
  return [
    env.id,
    source,
    env.address,
    env.method,
    env.headers,
    env.contentType ?? null,
    env.delivery,
    env.receivedAt,
    env.payload.byteLength,
    env.correlationId ?? null,
    env.replyTo ?? null,
    env.decoded === undefined ? null : 'error' in env.decoded ? [1, env.decoded.error] : [0, env.decoded.value],
  ];
}

/**
 * A batch as JSON text, `[[sources…], [messages…]]`: the messages of one
 * connection share one source entry, so its client id and identity are
 * written, copied and frozen once per batch rather than once per message.
 */
export function batchWire(envs: readonly Envelope[]): string {
  const sources: WireSource[] = [];
  const indexOf = new Map<Envelope['source'], number>();
  const messages = new Array<WireMessage>(envs.length);
  for (let i = 0; i < envs.length; i++) {
    const env = envs[i]!;
    let s = indexOf.get(env.source);
    // A source object belongs to one connection of one listener; the check keeps a shared one honest.
    if (s === undefined || sources[s]![0] !== env.protocol || sources[s]![1] !== env.listener) {
      s = sources.length;
      sources.push(sourceWire(env));
      indexOf.set(env.source, s);
    }
    messages[i] = messageWire(env, s);
  }
  return JSON.stringify([sources, messages]);
}

/** Payloads up to this total travel as a Latin-1 string (a string copies into an isolate cheapest). */
const LATIN1_MAX = 16 * 1024;

/** A batch's payloads concatenated, in order (see isolate/prelude.js): a Latin-1 string when small, else bytes owning their memory. */
export function payloadsOf(envs: readonly Envelope[]): string | Uint8Array {
  let total = 0;
  for (let i = 0; i < envs.length; i++) total += envs[i]!.payload.byteLength;
  if (total <= LATIN1_MAX) {
    let s = '';
    for (let i = 0; i < envs.length; i++) s += envs[i]!.payload.toString('latin1');
    return s;
  }
  // Copying a view of Node's shared buffer pool would copy the whole pool: use one array of its own.
  const bytes = new Uint8Array(total);
  for (let i = 0, o = 0; i < envs.length; i++) {
    const pl = envs[i]!.payload;
    bytes.set(pl, o);
    o += pl.byteLength;
  }
  return bytes;
}

/** One message for `onResponse`: [source, message] (the message's source index is 0). */
export function envelopeWire(env: Envelope): [WireSource, WireMessage] {
  return [sourceWire(env), messageWire(env, 0)];
}

export function responseWire(res: ScriptResponse): WireResponse {
  return [res.status, { ...res.headers }, ownBytes(res.body)];
}

/** What `onConnect(client)` sees. The password is given as text so admission scripts can check tokens; it is never logged. */
export function clientWire(c: ClientInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {
    protocol: c.protocol,
    listener: c.listener,
    clientId: c.clientId,
    remoteAddress: c.remoteAddress,
  };
  if (c.username !== undefined) out.username = c.username;
  if (c.password !== undefined) out.password = c.password.toString('utf8');
  if (c.remotePort !== undefined) out.remotePort = c.remotePort;
  if (c.tls) out.tls = { ...c.tls };
  if (c.identity)
    out.identity = {
      principal: c.identity.principal,
      method: c.identity.method,
      attributes: { ...c.identity.attributes },
      groups: [...(c.identity.groups ?? [])],
    };
  return out;
}
