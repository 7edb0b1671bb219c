/** Schema and types of the `guard` section: bans, violation scoring and flapping detection (docs/guard.md). */
export interface StaticBanConfig {
  readonly kind: 'ip' | 'cidr' | 'clientId' | 'principal';
  readonly value: string;
  readonly reason: string;
  /** Seconds from start (or reload) the ban lasts; absent: as long as it is configured. */
  readonly ttlSeconds?: number;
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
  readonly limits: {
    /** New connections a second per source address at accept (token bucket; 0: no limit); over it the socket is dropped and a `flood` event reported. */
    readonly connectionsPerSecond: number;
    readonly connectionBurst: number;
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
  banned: 0,
};

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
          kind: { enum: ['ip', 'cidr', 'clientId', 'principal'] },
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
