/** Schema and types of the `listeners` section: one entry per socket. */
import { mqttOptionsSchema, type MqttListenerOptions } from './listener-mqtt.js';
import { coapOptionsSchema, type CoapListenerOptions } from './listener-coap.js';
import { amqpOptionsSchema, type AmqpListenerOptions } from './listener-amqp.js';
import { httpOptionsSchema, type HttpListenerOptions } from './listener-http.js';
import { authChainSchema, type AuthenticatorConfig } from './security.js';
import { tlsSchema, type TlsConfig } from './listener-tls.js';
import { dtlsSchema, type DtlsConfig } from './listener-dtls.js';
import { rateLimitsProperties, type ListenerRateLimits } from './guard.js';

/** A registered listener protocol: a built-in (`mqtt`, `mqtt-ws`, `coap`, `amqp`, `http`) or one a plugin contributed. */
export type ListenerProtocol = string;

export interface ListenerLimits {
  /** Largest frame accepted from a device, in bytes. */
  readonly maxPacketBytes: number;
  /** Deadline for a new connection's first complete CONNECT (or protocol header). */
  readonly connectTimeoutMs: number;
  readonly maxConnections: number;
  /** Messages one connection may have in flight toward back-ends (MQTT receive maximum, AMQP credit). */
  readonly maxInflight: number;
}

/** `listeners[].proxyProtocol`: TCP listeners behind a balancer that sends the PROXY protocol (docs/scaling.md). */
export interface ProxyProtocolConfig {
  readonly enabled: boolean;
  /** Address prefixes (a.b.c.d/n, v6/n) of the balancers whose headers are believed; a header from elsewhere is refused. */
  readonly trustedFrom: readonly string[];
}

export interface ListenerConfig {
  readonly name: string;
  readonly protocol: ListenerProtocol;
  readonly host: string;
  readonly port: number;
  readonly tls?: TlsConfig;
  /** CoAP over DTLS 1.2 (`coaps`); coap listeners only. */
  readonly dtls?: DtlsConfig;
  readonly limits: ListenerLimits;
  readonly mqtt: MqttListenerOptions;
  readonly coap?: CoapListenerOptions;
  readonly amqp?: AmqpListenerOptions;
  readonly http?: HttpListenerOptions;
  /** The authenticator chain, in order (docs/security.md). */
  readonly auth: readonly AuthenticatorConfig[];
  /** Whether a client no authenticator admitted gets in, anonymous; defaults to true only when `auth` is empty. */
  readonly anonymous?: boolean;
  /** Client-id binding: a template the client id must equal once admitted, e.g. "{principal}". */
  readonly clientId?: string;
  /** The client address from a balancer's PROXY header (v1 or v2); TCP listeners only. */
  readonly proxyProtocol?: ProxyProtocolConfig;
  /** This listener's overrides of the `guard` section (docs/guard.md). */
  readonly guard?: { readonly limits?: ListenerRateLimits };
}

export const listenerSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'protocol', 'port'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', maxLength: 64 },
    /** The registered names; buildConfigSchema (config/schema.ts) fills the enum. */
    protocol: { type: 'string' },
    host: { type: 'string', minLength: 1, default: '0.0.0.0' },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    tls: tlsSchema,
    dtls: dtlsSchema,
    limits: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxPacketBytes: { type: 'integer', minimum: 64, maximum: 268435455, default: 262144 },
        connectTimeoutMs: { type: 'integer', minimum: 100, maximum: 600000, default: 10000 },
        maxConnections: { type: 'integer', minimum: 1, default: 100000 },
        maxInflight: { type: 'integer', minimum: 1, maximum: 65535, default: 64 },
      },
    },
    mqtt: mqttOptionsSchema,
    coap: coapOptionsSchema,
    amqp: amqpOptionsSchema,
    http: httpOptionsSchema,
    auth: authChainSchema,
    anonymous: { type: 'boolean' },
    clientId: { type: 'string', minLength: 1, description: 'client-id binding template, e.g. "{principal}"' },
    proxyProtocol: {
      type: 'object',
      additionalProperties: false,
      required: ['trustedFrom'],
      properties: {
        enabled: { type: 'boolean', default: true },
        trustedFrom: { type: 'array', items: { type: 'string', minLength: 1 } },
      },
    },
    guard: {
      type: 'object',
      additionalProperties: false,
      properties: { limits: { type: 'object', additionalProperties: false, properties: rateLimitsProperties(false) } },
    },
  },
} as const;
