/** Schema and types of the `pools` section: named sets of REST back-end endpoints. */
export const STRATEGIES = ['round-robin', 'weighted', 'least-outstanding', 'consistent-hash', 'p2c-ewma'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export interface EndpointConfig {
  readonly url: string;
  readonly weight: number;
}

export interface PoolConfig {
  readonly name: string;
  readonly strategy: StrategyName;
  readonly endpoints: readonly EndpointConfig[];
  /** Per-request timeout toward one endpoint. */
  readonly timeoutMs: number;
  /** Requests in flight across the pool's endpoints; beyond it messages wait in the pending queue. */
  readonly maxInflight: number;
  /** Messages that may wait for an in-flight slot; beyond it a message is `unavailable` at once. */
  readonly maxPending: number;
  /** Keep-alive connections per endpoint. */
  readonly connections: number;
}

export const poolSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'endpoints'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', maxLength: 64 },
    strategy: { enum: [...STRATEGIES], default: 'round-robin' },
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
    timeoutMs: { type: 'integer', minimum: 1, maximum: 600000, default: 5000 },
    maxInflight: { type: 'integer', minimum: 1, default: 1024 },
    maxPending: { type: 'integer', minimum: 0, default: 4096 },
    connections: { type: 'integer', minimum: 1, maximum: 1024, default: 16 },
  },
} as const;
