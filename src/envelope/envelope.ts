/**
 * The Envelope: what every listener produces from one device frame. It is
 * protocol-neutral and immutable after creation; nothing after a listener
 * sees a packet, only Envelopes.
 */

/** Protocol family of the device side. MQTT over WebSocket is `mqtt`; the listener name tells them apart. A plugin's listener uses its registered name. */
export type Protocol = 'mqtt' | 'coap' | 'amqp' | 'http' | (string & {});

/** Delivery guarantee the device asked for (MQTT QoS, CoAP CON/NON, AMQP settlement mode). */
export type Delivery = 'at-most-once' | 'at-least-once' | 'exactly-once';

/** The client certificate of a TLS connection, as presented (see `TlsInfo.authorized` for whether it verified). */
export interface PeerCertificate {
  readonly subject: string;
  readonly issuer: string;
  /** subjectAltName entries as OpenSSL prints them: `DNS:dev1.example`, `URI:urn:dev:1`, `IP Address:10.0.0.1`. */
  readonly san: readonly string[];
  /** Hex, upper case. */
  readonly serial: string;
  /** SHA-256 of the DER certificate, colon-separated hex. */
  readonly fingerprint256: string;
  /** ISO 8601. */
  readonly validFrom: string;
  readonly validTo: string;
}

/** TLS facts of an encrypted connection: the handshake, the client's certificate and its ClientHello fingerprint. */
export interface TlsInfo {
  /** `TLSv1.3`, `TLSv1.2`. */
  readonly version: string;
  /** OpenSSL name of the negotiated suite. */
  readonly cipher: string;
  /** The SNI the client sent (RFC 6066 §3). */
  readonly servername?: string;
  /** The negotiated ALPN protocol (RFC 7301). */
  readonly alpn?: string;
  /** The session was resumed (no full handshake). */
  readonly resumed: boolean;
  /** A client certificate was presented and verified against the listener's CA. */
  readonly authorized: boolean;
  readonly peer?: PeerCertificate;
  /** Same as `peer.subject` (kept for existing readers). */
  readonly peerSubject?: string;
  /** Same as `peer.fingerprint256` (kept for existing readers). */
  readonly peerFingerprint256?: string;
  /** True when the peer certificate was verified against the listener's CA. */
  readonly peerVerified?: boolean;
  /** Subject common name of the peer certificate. */
  readonly peerCommonName?: string;
  /** Subject alternative names of the peer certificate, as node prints them (`DNS:a, URI:b`). */
  readonly peerAltNames?: string;
  /** The PSK identity a DTLS client authenticated with (RFC 4279); the principal of a coaps PSK association. */
  readonly pskIdentity?: string;
  /** JA4 fingerprint of the raw ClientHello (FoxIO JA4 TLS client). */
  readonly ja4?: string;
  /** JA3 fingerprint (MD5, Salesforce JA3) of the same ClientHello. */
  readonly ja3?: string;
}

/** The authenticated principal behind a connection. */
export interface Identity {
  readonly principal: string;
  /** How the principal was established (`token`: a JWT; `delegate`: an HTTP auth service). */
  readonly method: 'anonymous' | 'password' | 'certificate' | 'psk' | 'token' | 'delegate' | 'script';
  /** Attributes attached by an authenticator or an `onConnect` script (ACL placeholders `{attr.NAME}`). */
  readonly attributes: Readonly<Record<string, string>>;
  /** Groups the principal belongs to (ACL placeholder `{group}`); absent means none. */
  readonly groups?: readonly string[];
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
  /** The sender declared the payload UTF-8 text (MQTT 5 Payload Format Indicator 1); forwarded to devices unaltered [MQTT-3.3.2-4]. */
  readonly payloadUtf8?: boolean;
  /** MQTT RETAIN: a `target: devices` route keeps the message as its topic's retained message. */
  readonly retain?: boolean;
  /**
   * Aborted once the connection that carried the message has closed. Until
   * its acknowledgement is sent the device counts the message as not
   * delivered (it redelivers it, or for at-most-once loses it as allowed), so
   * later stages may drop it unsent; a message already sent to a back-end
   * simply completes. Absent where the protocol has no connection to lose.
   */
  readonly signal?: AbortSignal;
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
  if (init.payloadUtf8 === true) env.payloadUtf8 = true;
  if (init.retain === true) env.retain = true;
  if (init.signal !== undefined) env.signal = init.signal;
  return Object.freeze(env);
}
