/**
 * thinggate routing script API.
 *
 * A routing script is an ES module run in an isolated sandbox. It exports
 * `onMessage(msg, ctx)` and optionally `onConnect(client, ctx)` and
 * `onResponse(response, msg, ctx)`. The decision helpers below are globals.
 *
 * Editors: add `/// <reference types="thinggate/types/thinggate" />` at the
 * top of a script (or list "thinggate/types/thinggate" in jsconfig.json
 * `compilerOptions.types`), then annotate handlers with JSDoc:
 *
 * @example
 * /// <reference types="thinggate/types/thinggate" />
 * /** @type {import('thinggate/types/thinggate').OnMessage} *\/
 * export function onMessage(msg, ctx) {
 *   return route('ingest', { path: `/telemetry/${msg.clientId}` });
 * }
 */

/** Delivery guarantee the device asked for. */
export type Delivery = 'at-most-once' | 'at-least-once' | 'exactly-once';

/** The protocol a message arrived over. */
export type Protocol = 'mqtt' | 'coap' | 'amqp' | 'http' | (string & {});

/** The authenticated principal behind the connection. */
export interface Identity {
  readonly principal: string;
  /** How the principal was established (`token`: a JWT; `delegate`: an HTTP auth service). */
  readonly method: 'anonymous' | 'password' | 'certificate' | 'token' | 'psk' | 'delegate' | 'script';
  readonly attributes: Readonly<Record<string, string>>;
}

/** A read-only view of one message (the gateway's envelope). */
export interface Message {
  /** Unique, sortable by arrival. */
  readonly id: string;
  /** A built-in protocol, or the name a plugin listener gives its own. */
  readonly protocol: Protocol;
  /** Configured name of the listener that received it. */
  readonly listener: string;
  readonly clientId: string;
  readonly identity?: Identity;
  /** The connection's TLS handshake and client certificate (absent on plain connections). */
  readonly tls?: Tls;
  /** MQTT topic, CoAP Uri-Path, AMQP address or HTTP path. */
  readonly address: string;
  /** PUBLISH (MQTT), TRANSFER (AMQP), or the CoAP/HTTP method. */
  readonly method: string;
  /** Lower-cased names: MQTT 5 user properties, CoAP options, AMQP application properties, HTTP headers. */
  readonly headers: Readonly<Record<string, string>>;
  readonly contentType?: string;
  readonly delivery: Delivery;
  /** Milliseconds since the epoch. */
  readonly receivedAt: number;
  /** The payload bytes (a copy, made on first read: changing it changes nothing outside the script). */
  readonly payload: Uint8Array;
  readonly correlationId?: string;
  readonly replyTo?: string;
  /** The payload decoded as UTF-8. */
  text(): string;
  /** The payload parsed as JSON (throws on invalid JSON). */
  json<T = unknown>(): T;
  /**
   * The payload decoded by its codec: the route's `decode`, else the codec its content type
   * names (`application/cbor` with plugins/cbor, …); JSON and text decode as `json()` and
   * `text()`. Byte strings come as base64 strings, big integers as decimal strings.
   * Throws when the payload is not valid for the codec, or no codec reads it.
   */
  decode<T = unknown>(): T;
}

/** A back-end response, as `onResponse` sees it. */
export interface Response {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  text(): string;
  json<T = unknown>(): T;
}

/** A connecting client, as `onConnect` sees it. */
export interface Client {
  /** A built-in protocol, or the name a plugin listener gives its own. */
  readonly protocol: Protocol;
  readonly listener: string;
  readonly clientId: string;
  readonly username?: string;
  /** The password or token as text; never logged by the gateway. */
  readonly password?: string;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  readonly tls?: Tls;
}

/** What the gateway saw of a connection's TLS (absent on plain connections). */
export interface Tls {
  /** 'TLSv1.3', 'TLSv1.2'. */
  readonly version: string;
  /** OpenSSL name of the negotiated suite. */
  readonly cipher: string;
  /** The SNI host name the client asked for. */
  readonly servername?: string;
  /** The negotiated ALPN protocol. */
  readonly alpn?: string;
  /** The session was resumed. */
  readonly resumed: boolean;
  /** The client certificate verified against the listener's CA. */
  readonly authorized: boolean;
  /** The client certificate, when one was presented. */
  readonly peer?: {
    readonly subject: string;
    readonly issuer: string;
    /** 'DNS:dev1.example', 'URI:urn:dev:1', 'IP Address:10.0.0.1'. */
    readonly san: readonly string[];
    readonly serial: string;
    readonly fingerprint256: string;
    /** ISO 8601. */
    readonly validFrom: string;
    readonly validTo: string;
  };
  readonly peerSubject?: string;
  readonly peerFingerprint256?: string;
  /** JA4 fingerprint of the client's ClientHello: tells TLS stacks (firmware builds) apart. */
  readonly ja4?: string;
  /** JA3 fingerprint (MD5) of the same ClientHello. */
  readonly ja3?: string;
}

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A body or payload: bytes, a string (sent as UTF-8 text/plain) or a JSON value (sent as application/json). */
export type Body = Uint8Array | ArrayBuffer | string | Json;

export interface RouteDecision {
  readonly action: 'route';
  /** Pool name; omitted = the route's configured `pool`. */
  readonly pool?: string;
  readonly method?: string;
  /** Path (and query) starting with '/'; may use {clientId}, {address}, {address.N}, {listener}, {protocol}, {id}. */
  readonly path?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Default: the message payload. */
  readonly body?: Body;
  /** Affinity key for consistent-hash pools; default the client id. */
  readonly key?: string;
  /** The back-end's response becomes the device's reply (and `onResponse` may shape it). */
  readonly reply?: boolean;
}
export interface ReplyDecision {
  readonly action: 'reply';
  readonly payload: Body;
  readonly contentType?: string;
  /** HTTP-style status, 200–599; default 200. */
  readonly code?: number;
}
export interface DropDecision {
  readonly action: 'drop';
  readonly reason?: string;
}
export interface RejectDecision {
  readonly action: 'reject';
  readonly reason: string;
  /** HTTP-style 4xx status; default 400. */
  readonly code?: number;
}
export interface PublishDecision {
  readonly action: 'publish';
  /** A topic without wildcards. */
  readonly topic: string;
  readonly payload: Body;
  readonly qos?: 0 | 1 | 2;
  readonly retain?: boolean;
  readonly headers?: Readonly<Record<string, string>>;
  readonly contentType?: string;
}
/** A command (notification) for one device, kept in its mailbox until it can take it (docs/commands.md). */
export interface CommandDecision {
  readonly action: 'command';
  readonly clientId: string;
  readonly payload: Body;
  /** Topic / address; default the configured `commands.address`. */
  readonly address?: string;
  readonly qos?: 0 | 1 | 2;
  readonly ttlMs?: number;
  readonly contentType?: string;
}
export type Decision = RouteDecision | ReplyDecision | DropDecision | RejectDecision | PublishDecision | CommandDecision;

/** What `onConnect` may return besides `reject(...)`, `true`, `false` or nothing (= accept). */
export interface AcceptDecision {
  readonly action: 'accept';
  /** Principal of the connection's identity; default the username, else the client id. */
  readonly principal?: string;
  /** Attributes attached to the identity; later messages see them in `msg.identity.attributes`. */
  readonly attributes?: Readonly<Record<string, string>>;
}

/**
 * `ctx.state`: a per-script store of JSON values, bounded in entries and bytes (oldest writes forgotten first).
 * On the redis state backend every node holds a replica: reads are local, a write is read back at once and
 * reaches the other nodes a Redis round trip later, and the last writer wins (docs/scaling.md).
 */
export interface State {
  get<T = Json>(key: string): T | undefined;
  has(key: string): boolean;
  /** Throws RangeError when the entry alone exceeds the byte bound, TypeError when the value is not JSON. */
  set(key: string, value: Json): void;
  delete(key: string): boolean;
  readonly size: number;
}

export interface Context {
  /** Rate-limited lines in the gateway log, tagged with the script. */
  readonly log: {
    info(...args: unknown[]): void;
    warn(...args: unknown[]): void;
    error(...args: unknown[]): void;
  };
  readonly state: State;
  /** The gateway's clock (ms since the epoch) when the call started. */
  now(): number;
}

export type OnMessage = (msg: Message, ctx: Context) => Decision | readonly Decision[];
export type OnConnect = (client: Client, ctx: Context) => AcceptDecision | RejectDecision | boolean | undefined | void;
export type OnResponse = (response: Response, msg: Message, ctx: Context) => ReplyDecision | RejectDecision | undefined | void;

declare global {
  /** Dispatch to a pool (omit the pool, or pass undefined, to use the route's configured one). */
  function route(pool?: string, request?: Omit<RouteDecision, 'action' | 'pool'>): RouteDecision;
  /** Answer the device without a back-end. */
  function reply(payload: Body, options?: { contentType?: string; code?: number }): ReplyDecision;
  /** Acknowledge the message and discard it. */
  function drop(reason?: string): DropDecision;
  /** Refuse the message (or, in onConnect, the client) with a reason; the listener maps it to its protocol. */
  function reject(reason: string, code?: number): RejectDecision;
  /** Send toward devices subscribed to `topic`. */
  function publish(
    topic: string,
    payload: Body,
    options?: { qos?: 0 | 1 | 2; retain?: boolean; headers?: Record<string, string>; contentType?: string },
  ): PublishDecision;
  /** Queue a command for device `clientId` in its mailbox (delivered now or when it connects; the gateway needs a `commands` section). */
  function command(clientId: string, payload: Body, options?: { address?: string; qos?: 0 | 1 | 2; ttlMs?: number; contentType?: string }): CommandDecision;
  /** Admit a client in onConnect, optionally naming its principal and attaching attributes. */
  function accept(options?: { principal?: string; attributes?: Record<string, string> }): AcceptDecision;

  // TextEncoder and TextDecoder (UTF-8 only) are globals too; their types come from the standard libraries.
}
