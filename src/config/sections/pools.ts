/**
 * Schema and types of the `pools` section: named sets of REST back-end
 * endpoints with a balancing strategy, health checking, outlier ejection,
 * retries, circuit breaking and optional batching and durable spooling.
 * docs/balancer.md documents every key and its default.
 */
/** A registered balancing strategy: a built-in or one a plugin contributed (config/catalog.ts). */
export type StrategyName = string;

/** Conditions a retry may follow. */
export const RETRY_ON = ['connect-failure', 'reset', 'timeout', '5xx', '502', '503', '504'] as const;
export type RetryOn = (typeof RETRY_ON)[number];

export interface EndpointConfig {
  readonly url: string;
  readonly weight: number;
}

export interface HealthCheckConfig {
  readonly method: string;
  readonly path: string;
  readonly intervalMs: number;
  /** A random 0..jitterMs is added to each interval so checks of many gateways do not align. */
  readonly jitterMs: number;
  readonly timeoutMs: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
  /** Status codes (200) or classes ("2xx") counted as healthy. */
  readonly expectedStatuses: readonly (number | string)[];
}

export interface OutlierDetectionConfig {
  readonly enabled: boolean;
  readonly consecutiveFailures: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionTimeMs: number;
  readonly maxEjectionPercent: number;
}

export interface RetryConfig {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  readonly retryOn: readonly RetryOn[];
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Retries in progress may be at most this percentage of active requests… */
  readonly budgetPercent: number;
  /** …but this many are always allowed. */
  readonly minRetryConcurrency: number;
}

export interface UpstreamTlsConfig {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly passphrase?: string;
  readonly servername?: string;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  readonly rejectUnauthorized: boolean;
  /** Certificate pins: SHA-256 fingerprints (`AB:CD:…`) or public-key pins (`sha256/<base64>`); one must match. */
  readonly pin?: readonly string[];
}

export interface BatchConfig {
  readonly maxMessages: number;
  readonly maxDelayMs: number;
  readonly method: string;
  readonly path: string;
}

export interface SpoolConfig {
  readonly directory: string;
  readonly maxMessages: number;
  /** Spooled messages delivered at once. */
  readonly concurrency: number;
  /** Wait between delivery rounds after a failure. */
  readonly retryIntervalMs: number;
}

export interface PoolConfig {
  readonly name: string;
  readonly strategy: StrategyName;
  readonly endpoints: readonly EndpointConfig[];
  /** Per-attempt timeout toward one endpoint. */
  readonly timeoutMs: number;
  /** All attempts of one message together (the message's own expiry caps it further). */
  readonly totalTimeoutMs: number;
  /** Requests in flight across the pool's endpoints; beyond it messages wait in the pending queue. */
  readonly maxInflight: number;
  /** Messages that may wait for an in-flight slot; beyond it a message is `unavailable` at once. */
  readonly maxPending: number;
  /** Keep-alive connections per endpoint. */
  readonly connections: number;
  /** HTTP/1.1 requests in flight per connection (1 = no pipelining). */
  readonly pipelining: number;
  /** What consistent-hash hashes: the request key (client id or script key), the address, or a header. */
  readonly hashOn: 'clientId' | 'address' | 'header';
  readonly hashHeader?: string;
  /** Bounded-load factor for consistent-hash: no endpoint takes more than this times the mean load. */
  readonly hashLoadFactor: number;
  /** Percentage of healthy endpoints below which the pool balances over all of them (0 disables). */
  readonly panicThreshold: number;
  /** One key's requests are dispatched one at a time, in arrival order. */
  readonly orderedDelivery: boolean;
  readonly healthCheck?: HealthCheckConfig;
  readonly outlierDetection: OutlierDetectionConfig;
  readonly retries: RetryConfig;
  readonly tls?: UpstreamTlsConfig;
  /** Messages from TLS listeners may go to this pool's plain-http endpoints without the start-up warning. */
  readonly allowPlaintext: boolean;
  readonly batch?: BatchConfig;
  readonly spool?: SpoolConfig;
}

const int = (minimum: number, maximum: number, def: number) => ({ type: 'integer', minimum, maximum, default: def }) as const;

export const poolSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'endpoints'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', maxLength: 64 },
    /** The registered names; buildConfigSchema (config/schema.ts) fills the enum. */
    strategy: { type: 'string', default: 'round-robin' },
    endpoints: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: {
          url: { type: 'string', format: 'uri', pattern: '^https?://' },
          weight: { type: 'integer', minimum: 1, maximum: 1000, default: 1 },
        },
      },
    },
    timeoutMs: int(1, 600000, 5000),
    totalTimeoutMs: int(1, 3600000, 15000),
    maxInflight: { type: 'integer', minimum: 1, default: 1024 },
    maxPending: { type: 'integer', minimum: 0, default: 4096 },
    connections: int(1, 1024, 16),
    pipelining: int(1, 100, 16),
    hashOn: { enum: ['clientId', 'address', 'header'], default: 'clientId' },
    hashHeader: { type: 'string', pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", maxLength: 128 },
    hashLoadFactor: { type: 'number', minimum: 1, maximum: 100, default: 1.25 },
    panicThreshold: { type: 'number', minimum: 0, maximum: 100, default: 50 },
    orderedDelivery: { type: 'boolean', default: false },
    healthCheck: {
      type: 'object',
      additionalProperties: false,
      properties: {
        method: { enum: ['GET', 'HEAD', 'OPTIONS', 'POST'], default: 'GET' },
        path: { type: 'string', pattern: '^/', default: '/health' },
        intervalMs: int(100, 3600000, 5000),
        jitterMs: int(0, 3600000, 1000),
        timeoutMs: int(1, 600000, 2000),
        healthyThreshold: int(1, 100, 2),
        unhealthyThreshold: int(1, 100, 3),
        expectedStatuses: {
          type: 'array',
          minItems: 1,
          items: {
            anyOf: [
              { type: 'integer', minimum: 100, maximum: 599 },
              { type: 'string', pattern: '^[1-5]xx$' },
            ],
          },
          default: ['2xx'],
        },
      },
    },
    outlierDetection: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        consecutiveFailures: int(1, 1000, 5),
        baseEjectionTimeMs: int(1, 3600000, 30000),
        maxEjectionTimeMs: int(1, 86400000, 300000),
        maxEjectionPercent: { type: 'number', minimum: 0, maximum: 100, default: 50 },
      },
    },
    retries: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxAttempts: int(1, 10, 3),
        retryOn: {
          type: 'array',
          uniqueItems: true,
          items: { enum: [...RETRY_ON] },
          default: ['connect-failure', 'reset', 'timeout', '502', '503', '504'],
        },
        backoffBaseMs: int(0, 60000, 25),
        backoffMaxMs: int(0, 600000, 250),
        budgetPercent: { type: 'number', minimum: 0, maximum: 100, default: 20 },
        minRetryConcurrency: int(0, 100000, 3),
      },
    },
    allowPlaintext: { type: 'boolean', default: false },
    tls: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ca: { type: 'string', minLength: 1 },
        cert: { type: 'string', minLength: 1 },
        key: { type: 'string', minLength: 1 },
        passphrase: { type: 'string' },
        servername: { type: 'string', minLength: 1 },
        minVersion: { enum: ['TLSv1.2', 'TLSv1.3'], default: 'TLSv1.2' },
        rejectUnauthorized: { type: 'boolean', default: true },
        pin: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^(sha256/[A-Za-z0-9+/]{43}=|([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2})$' } },
      },
    },
    batch: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxMessages: int(1, 10000, 100),
        maxDelayMs: int(0, 60000, 10),
        method: { enum: ['POST', 'PUT'], default: 'POST' },
        path: { type: 'string', pattern: '^/', default: '/batch' },
      },
    },
    spool: {
      type: 'object',
      additionalProperties: false,
      required: ['directory'],
      properties: {
        directory: { type: 'string', minLength: 1 },
        maxMessages: int(1, 100000000, 100000),
        concurrency: int(1, 1024, 16),
        retryIntervalMs: int(1, 3600000, 1000),
      },
    },
  },
} as const;
