/** Schema and types of the `commands` section: southbound commands and per-device mailboxes (docs/commands.md). */
export interface CommandsConfig {
  /** Folder of the mailbox database (LevelDB); relative paths resolve against the configuration file's folder. */
  readonly directory: string;
  /**
   * Client-id patterns (`*` matches any run of characters) that may be
   * commanded before they ever connected. Other client ids must be connected
   * now or have connected once, else the API answers 404.
   */
  readonly unseenDevices: readonly string[];
  readonly limits: {
    readonly maxMessagesPerDevice: number;
    readonly maxBytesPerDevice: number;
    readonly maxMessagesTotal: number;
    /** Largest payload a command may carry. */
    readonly maxPayloadBytes: number;
  };
  /** TTL of a command that names none, and the most one may ask for. */
  readonly defaultTtlMs: number;
  readonly maxTtlMs: number;
  /** How long a `sync` command waits for the response when it names no timeoutMs, and the most it may ask for. */
  readonly defaultTimeoutMs: number;
  readonly maxTimeoutMs: number;
  /** The address a command is delivered on when it names none; `{clientId}` and `{commandId}` are replaced. */
  readonly address: string;
  /** Where devices answer: the response topic given to MQTT 5 devices, and the convention for MQTT 3.1.1 ones. */
  readonly responseAddress: string;
  /** Pool that receives the response (or expiry) of `async` commands. */
  readonly callbackPool?: string;
  /** Path of the callback request; `{clientId}` and `{commandId}` are replaced. */
  readonly callbackPath: string;
  /** How long finished commands stay readable through the API. */
  readonly retentionMs: number;
  /** How often deadlines are checked and old records purged. */
  readonly sweepIntervalMs: number;
}

export const commandsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    directory: { type: 'string', minLength: 1, default: '.thinggate/mailbox' },
    unseenDevices: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    limits: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxMessagesPerDevice: { type: 'integer', minimum: 1, maximum: 1000000, default: 100 },
        maxBytesPerDevice: { type: 'integer', minimum: 1, default: 1048576 },
        maxMessagesTotal: { type: 'integer', minimum: 1, default: 1000000 },
        maxPayloadBytes: { type: 'integer', minimum: 1, maximum: 268435455, default: 262144 },
      },
    },
    defaultTtlMs: { type: 'integer', minimum: 1, default: 3600000 },
    maxTtlMs: { type: 'integer', minimum: 1, default: 604800000 },
    defaultTimeoutMs: { type: 'integer', minimum: 1, default: 10000 },
    maxTimeoutMs: { type: 'integer', minimum: 1, maximum: 600000, default: 60000 },
    address: { type: 'string', minLength: 1, default: 'commands/{clientId}/req/{commandId}' },
    responseAddress: { type: 'string', minLength: 1, default: 'commands/{clientId}/res/{commandId}' },
    callbackPool: { type: 'string', minLength: 1 },
    callbackPath: { type: 'string', pattern: '^/', default: '/commands/{clientId}/{commandId}' },
    retentionMs: { type: 'integer', minimum: 0, default: 86400000 },
    sweepIntervalMs: { type: 'integer', minimum: 10, maximum: 60000, default: 1000 },
  },
} as const;

/** Cross-field problems of the section, with their paths. */
export function commandsProblems(c: CommandsConfig, poolNames: ReadonlySet<string>): string[] {
  const out: string[] = [];
  if (c.defaultTtlMs > c.maxTtlMs) out.push(`/commands/defaultTtlMs: is larger than /commands/maxTtlMs (${c.maxTtlMs})`);
  if (c.defaultTimeoutMs > c.maxTimeoutMs) out.push(`/commands/defaultTimeoutMs: is larger than /commands/maxTimeoutMs (${c.maxTimeoutMs})`);
  if (c.callbackPool !== undefined && !poolNames.has(c.callbackPool)) {
    out.push(`/commands/callbackPool: no pool named '${c.callbackPool}' (defined: ${[...poolNames].join(', ') || 'none'})`);
  }
  const wild = /[+#]/;
  if (!c.responseAddress.includes('{commandId}'))
    out.push('/commands/responseAddress: must contain {commandId} (devices answer on the address of their command)');
  if (wild.test(c.responseAddress) || wild.test(c.address)) out.push('/commands: address and responseAddress must not contain the wildcards + or #');
  return out;
}

/** True when `clientId` matches one of the `*` patterns. */
export function matchesClientPattern(patterns: readonly string[], clientId: string): boolean {
  return patterns.some((p) => new RegExp(`^${p.split('*').map(escapeRegExp).join('.*')}$`).test(clientId));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
