/** Schema and types of the `guard` section: bans, violation scoring and flapping detection (docs/guard.md). */
export interface StaticBanConfig {
  readonly kind: 'ip' | 'cidr' | 'clientId' | 'principal' | 'certFingerprint' | 'ja4' | 'ja3';
  readonly value: string;
  readonly reason: string;
  /** Seconds from start (or reload) the ban lasts; absent: as long as it is configured. */
  readonly ttlSeconds?: number;
}

/** What a listener's rate limits count (docs/guard.md, *Rate limits*). */
export type RateResource = 'messages' | 'bytes' | 'subscriptions' | 'links';
export const RATE_RESOURCES: readonly RateResource[] = ['messages', 'bytes', 'subscriptions', 'links'];
/** Whom a bucket belongs to: the client id, the authenticated principal, the source address, or its /24 (IPv4) or /64 (IPv6). */
export type RateScope = 'clientId' | 'principal' | 'address' | 'prefix';
export const RATE_SCOPES: readonly RateScope[] = ['clientId', 'principal', 'address', 'prefix'];

/** One token bucket: `perSecond` (0: no limit), at most `burst` saved up. */
export interface RateSpecConfig {
  readonly perSecond: number;
  readonly burst: number;
}

export type ScopedRates = Readonly<Record<RateScope, RateSpecConfig>>;

/** Rate limits on the message path, global in `guard.limits`, overridable per listener in `listeners[].guard.limits`. */
export interface RateLimitsConfig {
  /** `enforce` acts on a limit; `log` only reports it (a dry run to tune limits). */
  readonly action: 'enforce' | 'log';
  /** MQTT 5 over a message or byte limit: PUBACK/PUBREC 0x97 Quota exceeded (QoS 0: paused reads), paused reads, or DISCONNECT. */
  readonly mqtt5: 'puback' | 'pause' | 'disconnect';
  /** DISCONNECT reason with `mqtt5: disconnect`: 0x96 (150) Message rate too high or 0x97 (151) Quota exceeded. */
  readonly mqtt5DisconnectReasonCode: 150 | 151;
  readonly messages: ScopedRates;
  readonly bytes: ScopedRates;
  readonly subscriptions: ScopedRates;
  readonly links: ScopedRates;
}

export interface GuardLimitsConfig extends RateLimitsConfig {
  /** New connections a second per source address at accept (token bucket; 0: no limit); over it the socket is dropped and a `flood` event reported. */
  readonly connectionsPerSecond: number;
  readonly connectionBurst: number;
}

/** A listener's overrides of `guard.limits` (each key replaces the global one). */
export interface ListenerRateLimits {
  readonly action?: RateLimitsConfig['action'];
  readonly mqtt5?: RateLimitsConfig['mqtt5'];
  readonly mqtt5DisconnectReasonCode?: RateLimitsConfig['mqtt5DisconnectReasonCode'];
  readonly messages?: Partial<Record<RateScope, Partial<RateSpecConfig>>>;
  readonly bytes?: Partial<Record<RateScope, Partial<RateSpecConfig>>>;
  readonly subscriptions?: Partial<Record<RateScope, Partial<RateSpecConfig>>>;
  readonly links?: Partial<Record<RateScope, Partial<RateSpecConfig>>>;
}

export interface GuardConfig {
  /** Folder for the guard's state (dynamic bans in bans.json); relative paths resolve against the configuration file's folder. */
  readonly stateDir: string;
  readonly bans: readonly StaticBanConfig[];
  /** Address prefixes scoring and flapping never ban (configured and API bans still apply); loopback by default. */
  readonly exempt: readonly string[];
  readonly scoring: {
    readonly enabled: boolean;
    /** Weight by event kind; kinds not listed weigh `defaultWeight`. */
    readonly weights: Readonly<Record<string, number>>;
    readonly defaultWeight: number;
    /** A score halves every this many seconds. */
    readonly halfLifeSeconds: number;
    /** Score at which the address or client id is banned. */
    readonly threshold: number;
    /** First ban's length; each repeat offence doubles it, up to `maxBanSeconds`. */
    readonly banSeconds: number;
    readonly maxBanSeconds: number;
  };
  readonly limits: GuardLimitsConfig;
  /** Slow-drip and non-reading peers (docs/guard.md, *Slow and stuck peers*). */
  readonly slowPeers: {
    readonly enabled: boolean;
    /** A packet in progress receiving fewer bytes a second than this over `windowSeconds` is a slow drip (0: off). */
    readonly minBytesPerSecond: number;
    readonly windowSeconds: number;
    /** Outbound bytes a connection's peer has not read beyond which it is closed (0: off). */
    readonly maxOutboundBytes: number;
    /** `log` reports without closing (a dry run). */
    readonly action: 'enforce' | 'log';
  };
  /** Overload protection (docs/guard.md, *Overload protection*). */
  readonly overload: {
    readonly enabled: boolean;
    /** How often the event loop and heap are sampled. */
    readonly intervalMs: number;
    /** Event-loop delay (mean over an interval, ms; two intervals in a row) at which new connections are refused, and publishers also throttled. */
    readonly eventLoopDelayMs: { readonly refuse: number; readonly throttle: number };
    /** Heap in use as a share of V8's limit at which the same happens. */
    readonly heapUsedRatio: { readonly refuse: number; readonly throttle: number };
    /** Open device connections, over every listener of this process (0: no watermark). */
    readonly connections: { readonly refuse: number; readonly throttle: number };
    /** Messages taken from devices and not yet settled by a back-end, in this process (0: no watermark). */
    readonly messagesInFlight: { readonly refuse: number; readonly throttle: number };
    /** Back to normal once every measure is below this share of its `refuse` watermark. */
    readonly recoverRatio: number;
    /** Retry-After (HTTP) and Max-Age (CoAP) on a refusal. */
    readonly retryAfterSeconds: number;
    /** While throttling, how long a publisher's reads (AMQP: credit) stop after each message. */
    readonly throttlePauseMs: number;
  };
  readonly flapping: {
    readonly enabled: boolean;
    /** More connects than this by one client id within `windowSeconds` ban it. */
    readonly maxConnects: number;
    /** More TCP connections than this from one address within `windowSeconds` ban it (higher: many devices may share a NAT address). */
    readonly maxAddressConnects: number;
    readonly windowSeconds: number;
    readonly banSeconds: number;
  };
}

/** Weights of the kinds listeners report; a normal device never scores, a client that keeps violating the protocol soon does. */
export const DEFAULT_WEIGHTS: Readonly<Record<string, number>> = {
  'malformed-packet': 10,
  'protocol-error': 10,
  oversize: 10,
  'auth-failure': 5,
  'acl-denied': 2,
  flood: 5,
  'slow-client': 5,
  'tls-handshake-failure': 2,
  'connection-limit': 1,
  'rate-limited': 1,
  banned: 0,
  // Refusals of a missing or malformed PROXY header name the balancer when it is the trusted peer: never scored by default.
  'proxy-protocol': 0,
};

/**
 * Default buckets: far above what one device does (a sensor sends a few
 * messages a minute), wider for a principal, an address (NAT) and a prefix,
 * which many devices may share.
 */
const RATE_DEFAULTS: Readonly<Record<RateResource, Readonly<Record<RateScope, readonly [number, number]>>>> = {
  messages: { clientId: [1000, 2000], principal: [10000, 20000], address: [10000, 20000], prefix: [50000, 100000] },
  bytes: { clientId: [10e6, 20e6], principal: [50e6, 100e6], address: [50e6, 100e6], prefix: [200e6, 400e6] },
  subscriptions: { clientId: [100, 1000], principal: [1000, 10000], address: [1000, 10000], prefix: [5000, 50000] },
  links: { clientId: [100, 1000], principal: [1000, 10000], address: [1000, 10000], prefix: [5000, 50000] },
};

/** The schema of the rate limits: with defaults in `guard.limits`, without in a listener's overrides. */
export function rateLimitsProperties(withDefaults: boolean): Record<string, unknown> {
  const d = (value: unknown): { default?: unknown } => (withDefaults ? { default: value } : {});
  const scoped = (resource: RateResource): Record<string, unknown> => ({
    type: 'object',
    additionalProperties: false,
    ...d({}),
    properties: Object.fromEntries(
      RATE_SCOPES.map((scope) => {
        const [perSecond, burst] = RATE_DEFAULTS[resource][scope];
        return [
          scope,
          {
            type: 'object',
            additionalProperties: false,
            ...d({}),
            properties: {
              perSecond: { type: 'number', minimum: 0, ...d(perSecond) },
              burst: { type: 'number', minimum: 1, ...d(burst) },
            },
          },
        ];
      }),
    ),
  });
  return {
    action: { enum: ['enforce', 'log'], ...d('enforce') },
    mqtt5: { enum: ['puback', 'pause', 'disconnect'], ...d('puback') },
    mqtt5DisconnectReasonCode: { enum: [150, 151], ...d(150) },
    ...Object.fromEntries(RATE_RESOURCES.map((r) => [r, scoped(r)])),
  };
}

/** A watermark pair on a count (connections, messages in flight); 0 turns one off, and both are off by default. */
const countWatermarks = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: { refuse: { type: 'integer', minimum: 0, default: 0 }, throttle: { type: 'integer', minimum: 0, default: 0 } },
} as const;

export const guardSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    stateDir: { type: 'string', minLength: 1, default: '.thinggate' },
    bans: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['kind', 'value', 'reason'],
        properties: {
          kind: { enum: ['ip', 'cidr', 'clientId', 'principal', 'certFingerprint', 'ja4', 'ja3'] },
          value: { type: 'string', minLength: 1 },
          reason: { type: 'string', minLength: 1 },
          ttlSeconds: { type: 'integer', minimum: 1 },
        },
      },
    },
    exempt: { type: 'array', items: { type: 'string', minLength: 1 }, default: ['127.0.0.0/8', '::1/128'] },
    scoring: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        weights: { type: 'object', additionalProperties: { type: 'number', minimum: 0 }, default: {} },
        defaultWeight: { type: 'number', minimum: 0, default: 1 },
        halfLifeSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 86400, default: 60 },
        threshold: { type: 'number', exclusiveMinimum: 0, default: 100 },
        banSeconds: { type: 'integer', minimum: 1, default: 300 },
        maxBanSeconds: { type: 'integer', minimum: 1, default: 86400 },
      },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        connectionsPerSecond: { type: 'number', minimum: 0, default: 50 },
        connectionBurst: { type: 'integer', minimum: 1, default: 100 },
        ...rateLimitsProperties(true),
      },
    },
    slowPeers: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        minBytesPerSecond: { type: 'number', minimum: 0, default: 16 },
        windowSeconds: { type: 'number', minimum: 0.1, maximum: 3600, default: 20 },
        maxOutboundBytes: { type: 'integer', minimum: 0, default: 16777216 },
        action: { enum: ['enforce', 'log'], default: 'enforce' },
      },
    },
    overload: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        intervalMs: { type: 'integer', minimum: 10, maximum: 60000, default: 1000 },
        eventLoopDelayMs: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: { refuse: { type: 'number', exclusiveMinimum: 0, default: 1000 }, throttle: { type: 'number', exclusiveMinimum: 0, default: 3000 } },
        },
        heapUsedRatio: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            refuse: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.85 },
            throttle: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.92 },
          },
        },
        connections: countWatermarks,
        messagesInFlight: countWatermarks,
        recoverRatio: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.8 },
        retryAfterSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 5 },
        throttlePauseMs: { type: 'integer', minimum: 1, maximum: 60000, default: 100 },
      },
    },
    flapping: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        maxConnects: { type: 'integer', minimum: 1, default: 15 },
        maxAddressConnects: { type: 'integer', minimum: 1, default: 100 },
        windowSeconds: { type: 'number', exclusiveMinimum: 0, default: 60 },
        banSeconds: { type: 'integer', minimum: 1, default: 300 },
      },
    },
  },
} as const;
