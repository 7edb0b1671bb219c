/**
 * The Envelope: what every listener produces from one device frame. It is
 * protocol-neutral and immutable after creation; nothing after a listener
 * sees a packet, only Envelopes.
 */

/** Protocol family of the device side. MQTT over WebSocket is `mqtt`; the listener name tells them apart. A plugin's listener uses its registered name. */
export type Protocol = 'mqtt' | 'coap' | 'amqp' | 'http' | (string & {});

/** Delivery guarantee the device asked for (MQTT QoS, CoAP CON/NON, AMQP settlement mode). */
export type Delivery = 'at-most-once' | 'at-least-once' | 'exactly-once';

/** TLS facts of an encrypted connection. */
export interface TlsInfo {
  readonly version: string;
  readonly cipher: string;
  readonly servername?: string;
  readonly peerSubject?: string;
  readonly peerFingerprint256?: string;
}

/** The authenticated principal behind a connection. */
export interface Identity {
  readonly principal: string;
  /** How the principal was established. */
  readonly method: 'anonymous' | 'password' | 'certificate' | 'token' | 'script';
  /** Attributes attached by an authenticator or an `onConnect` script. */
  readonly attributes: Readonly<Record<string, string>>;
}

/** Who sent the frame. */
export interface Source {
  readonly clientId: string;
  readonly identity?: Identity;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  readonly tls?: TlsInfo;
}

export interface Envelope {
  /** Unique and sortable by creation time (see ids.ts). */
  readonly id: string;
  readonly protocol: Protocol;
  /** The configured name of the listener that received it. */
  readonly listener: string;
  /** Milliseconds since the epoch. */
  readonly receivedAt: number;
  readonly source: Source;
  /** MQTT topic, CoAP Uri-Path (the query is the `uri-query` header), AMQP `to`/target address, HTTP path after the prefix. */
  readonly address: string;
  /** PUBLISH for MQTT, TRANSFER for AMQP, the request method for CoAP and HTTP. */
  readonly method: string;
  readonly payload: Buffer;
  readonly contentType?: string;
  /** Lower-cased names; MQTT 5 user properties, CoAP options, AMQP application properties, HTTP headers. */
  readonly headers: Readonly<Record<string, string>>;
  readonly delivery: Delivery;
  /** MQTT 5 correlation data (base64url), AMQP correlation-id, CoAP token (hex). */
  readonly correlationId?: string;
  /** MQTT 5 response topic, AMQP reply-to. */
  readonly replyTo?: string;
  /** Milliseconds since the epoch after which the message is worthless (MQTT message expiry, CoAP Max-Age, AMQP ttl). */
  readonly expiresAt?: number;
  /** Set by the pipeline, not by listeners: the payload decoded by the route's codec ahead of a script call. */
  readonly decoded?: DecodedPayload;
}

/** Fields a listener supplies; `id` and `receivedAt` are filled in when absent. */
export type EnvelopeInit = Omit<Envelope, 'id' | 'receivedAt' | 'headers'> & {
  id?: string;
  receivedAt?: number;
  headers?: Record<string, string>;
};

import type { DecodedPayload } from './codec.js';

const EMPTY_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

import { newId } from './ids.js';

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Builds a frozen Envelope. Header names must already be lower-cased by the listener.
 * Runs once per message: fields are copied one by one (no object spread) and a
 * source that is already frozen (a connection's, shared by its messages) is
 * used as it is rather than copied.
 */
export function createEnvelope(init: EnvelopeInit): Envelope {
  const env: Writable<Envelope> = {
    id: init.id ?? newId(),
    protocol: init.protocol,
    listener: init.listener,
    receivedAt: init.receivedAt ?? Date.now(),
    source: Object.isFrozen(init.source) ? init.source : Object.freeze({ ...init.source }),
    address: init.address,
    method: init.method,
    payload: init.payload,
    headers: init.headers ? Object.freeze(init.headers) : EMPTY_HEADERS,
    delivery: init.delivery,
  };
  if (init.contentType !== undefined) env.contentType = init.contentType;
  if (init.correlationId !== undefined) env.correlationId = init.correlationId;
  if (init.replyTo !== undefined) env.replyTo = init.replyTo;
  if (init.expiresAt !== undefined) env.expiresAt = init.expiresAt;
  return Object.freeze(env);
}
