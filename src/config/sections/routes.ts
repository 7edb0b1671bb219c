/** Schema and types of the `routes` section. First match wins. */
import type { CodecRef } from '../catalog.js';

export type { CodecRef } from '../catalog.js';

/** A codec reference: a media type, or `{ type: <media type>, ...that codec's options }` (checked against the codec's schema). */
const codecRefSchema = {
  type: ['string', 'object'],
  minLength: 1,
  required: ['type'],
  properties: { type: { type: 'string', minLength: 1 } },
} as const;

export interface RouteMatch {
  /** Envelope protocol (mqtt-ws listeners produce `mqtt`). */
  readonly protocol?: string;
  readonly listener?: string;
  /** MQTT wildcard pattern over the address ('+' one level, '#' the rest). */
  readonly address: string;
  readonly method?: string;
  /** ClientHello fingerprints (JA4 or JA3, see docs/tls.md): matches a TLS connection whose fingerprint is one of them. */
  readonly tlsFingerprint?: string | readonly string[];
}

export interface RequestTemplate {
  readonly method: string;
  /** Path with `{clientId}`, `{address}`, `{address.N}` (0-based level) placeholders. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The back-end's response body is the device's reply (CoAP/HTTP response, MQTT response topic, AMQP reply-to). */
  readonly reply: boolean;
  /** Encode the body with this codec for the back-end (the payload decoded first, or a script's structured body). */
  readonly encode?: CodecRef;
}

export interface RouteConfig {
  readonly name?: string;
  readonly match: RouteMatch;
  readonly pool?: string;
  readonly request: RequestTemplate;
  /** Script path, relative to the configuration file. */
  readonly script?: string;
  readonly target?: 'devices';
  /** Decode the payload with this codec instead of the one its content type names (MQTT 3.1.1 carries no content type). */
  readonly decode?: CodecRef;
  /** JSON Schema file (relative to the configuration file) every payload must satisfy. */
  readonly schema?: string;
  /** Accepted media types; a message that declares another is refused (415). */
  readonly contentTypes?: readonly string[];
  /** Largest payload accepted on this route (413). */
  readonly maxPayloadBytes?: number;
  /** Copies of the route's (decrypted) messages to a JSON-lines file. */
  readonly mirror?: MirrorConfig;
}

export interface MirrorConfig {
  /** JSON-lines file, relative to the configuration file; rotated to `FILE.1` at `maxBytes`. */
  readonly file?: string;
  readonly maxBytes: number;
  /** A pool (`pools[].name`) that receives the copies over HTTP, `batch` JSON lines per POST to `path`. */
  readonly pool?: string;
  readonly path: string;
  readonly batch: number;
  /** Share of messages copied: a fraction (0..1) or a percentage (`"5%"`). */
  readonly sample: number | string;
  /** At most this many copies per second (token bucket, burst of one second); absent: no limit. */
  readonly rate?: number;
  /** Only these clients' messages; `[]` copies only clients switched on from the admin API. */
  readonly clientIds?: readonly string[];
  /** Header values replaced by `[redacted]`. */
  readonly redactHeaders: readonly string[];
  /** Leave the payload out (`[redacted]`). */
  readonly redactPayload: boolean;
  /** JSON Pointers (RFC 6901) into a JSON payload whose values read `[redacted]`; a payload that is not JSON is left out whole. */
  readonly redactFields: readonly string[];
  /** Copies waiting per destination at most; beyond it they are dropped and counted. */
  readonly queue: number;
}

export const routeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['match'],
  properties: {
    name: { type: 'string', maxLength: 64 },
    match: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** An envelope protocol of a registered listener; checked against the catalog (config/load.ts). */
        protocol: { type: 'string', minLength: 1 },
        listener: { type: 'string', minLength: 1 },
        address: { type: 'string', minLength: 1, default: '#' },
        method: { type: 'string', pattern: '^[A-Za-z]+$' },
        tlsFingerprint: {
          anyOf: [
            { type: 'string', pattern: '^([0-9a-f]{32}|[tqd]([0-9s][0-9]|d[1-3])[di][0-9]{4}[0-9a-z]{0,2}_[0-9a-f]{12}_[0-9a-f]{12})$' },
            {
              type: 'array',
              minItems: 1,
              items: { type: 'string', pattern: '^([0-9a-f]{32}|[tqd]([0-9s][0-9]|d[1-3])[di][0-9]{4}[0-9a-z]{0,2}_[0-9a-f]{12}_[0-9a-f]{12})$' },
            },
          ],
        },
      },
    },
    pool: { type: 'string', minLength: 1 },
    request: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        method: { enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], default: 'POST' },
        path: { type: 'string', pattern: '^/', default: '/messages/{address}' },
        headers: {
          type: 'object',
          default: {},
          propertyNames: { pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" },
          additionalProperties: { type: 'string' },
        },
        reply: { type: 'boolean', default: false },
        encode: codecRefSchema,
      },
    },
    script: { type: 'string', minLength: 1 },
    target: { enum: ['devices'] },
    decode: codecRefSchema,
    schema: { type: 'string', minLength: 1 },
    contentTypes: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$' } },
    maxPayloadBytes: { type: 'integer', minimum: 0 },
    mirror: {
      type: 'object',
      additionalProperties: false,
      properties: {
        file: { type: 'string', minLength: 1 },
        maxBytes: { type: 'integer', minimum: 1024, default: 104857600 },
        pool: { type: 'string', minLength: 1 },
        path: { type: 'string', pattern: '^/', default: '/mirror' },
        batch: { type: 'integer', minimum: 1, maximum: 10000, default: 100 },
        sample: {
          anyOf: [
            { type: 'number', minimum: 0, maximum: 1 },
            { type: 'string', pattern: '^(100|[0-9]{1,2})(\\.[0-9]+)?%$' },
          ],
          default: 1,
        },
        rate: { type: 'number', exclusiveMinimum: 0 },
        clientIds: { type: 'array', items: { type: 'string' } },
        redactHeaders: { type: 'array', items: { type: 'string', minLength: 1 }, default: ['authorization'] },
        redactPayload: { type: 'boolean', default: false },
        redactFields: { type: 'array', items: { type: 'string', pattern: '^(/([^~]|~[01])*)+$' }, default: [] },
        queue: { type: 'integer', minimum: 1, maximum: 1000000, default: 10000 },
      },
    },
  },
} as const;
