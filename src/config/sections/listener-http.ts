/**
 * HTTP device-ingress listener options (`listeners[].http`). `HTTP_DEFAULTS`
 * is the one defaults object, used by the schema and when the section is absent.
 */
export interface HttpListenerOptions {
  /** Path prefix under which devices POST or PUT; the rest of the path is the address. Starts and ends with '/'. */
  readonly prefix: string;
  /** Request header naming the client id; without it the client id is the remote address. */
  readonly clientIdHeader: string;
  /** How long an idle keep-alive connection stays open. */
  readonly keepAliveTimeoutMs: number;
  /** Deadline for receiving a whole request (headers and body). */
  readonly requestTimeoutMs: number;
}

export const HTTP_DEFAULTS: HttpListenerOptions = Object.freeze({
  prefix: '/ingress/',
  clientIdHeader: 'x-client-id',
  keepAliveTimeoutMs: 5000,
  requestTimeoutMs: 30000,
});

export const httpOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    prefix: { type: 'string', pattern: '^/(.*/)?$', default: HTTP_DEFAULTS.prefix },
    clientIdHeader: { type: 'string', pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", default: HTTP_DEFAULTS.clientIdHeader },
    keepAliveTimeoutMs: { type: 'integer', minimum: 100, maximum: 600000, default: HTTP_DEFAULTS.keepAliveTimeoutMs },
    requestTimeoutMs: { type: 'integer', minimum: 100, maximum: 600000, default: HTTP_DEFAULTS.requestTimeoutMs },
  },
} as const;
