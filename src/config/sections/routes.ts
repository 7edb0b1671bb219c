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
          propertyNames: { pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' },
          additionalProperties: { type: 'string' },
        },
        reply: { type: 'boolean', default: false },
        encode: codecRefSchema,
      },
    },
    script: { type: 'string', minLength: 1 },
    target: { enum: ['devices'] },
    decode: codecRefSchema,
  },
} as const;
