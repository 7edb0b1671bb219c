/** Schema and types of the `scripts` section: limits applied to every routing script. */
export interface ScriptsConfig {
  /** Heap limit of each script's isolate, in MiB. */
  readonly memoryMb: number;
  /** CPU time limit of one call (one message's `onMessage`, one `onResponse`, one `onConnect`), in ms. */
  readonly timeoutMs: number;
  /** `ctx.state` bounds, per script. */
  readonly state: { readonly maxEntries: number; readonly maxBytes: number };
  /** `ctx.log` rate limit, per script (token bucket). */
  readonly log: { readonly perSecond: number; readonly burst: number };
  /** Per-device throttle after repeated failures. */
  readonly throttle: { readonly failures: number; readonly cooldownMs: number; readonly maxDevices: number };
  /** Watch script files and swap in changed versions. */
  readonly watch: boolean;
  /** Quiet time after a file change before it is compiled, in ms. */
  readonly debounceMs: number;
  /** Most messages handed to a script in one call. */
  readonly batchMax: number;
  /** Extra event-loop turns a partial batch may wait for more messages, while each turn brings more (0 = run after the current turn). */
  readonly batchTurns: number;
  /** Most threads the scripts run on (each script stays on one; scripts on one thread wait for each other); 0 runs them on the event loop. */
  readonly threads: number;
}

export const scriptsSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    memoryMb: { type: 'integer', minimum: 8, maximum: 4096, default: 32 },
    timeoutMs: { type: 'integer', minimum: 1, maximum: 60000, default: 50 },
    state: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxEntries: { type: 'integer', minimum: 1, maximum: 10000000, default: 10000 },
        maxBytes: { type: 'integer', minimum: 1024, maximum: 1073741824, default: 4194304 },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        perSecond: { type: 'number', minimum: 0, maximum: 100000, default: 10 },
        burst: { type: 'integer', minimum: 1, maximum: 100000, default: 50 },
      },
    },
    throttle: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        failures: { type: 'integer', minimum: 1, maximum: 1000000, default: 5 },
        cooldownMs: { type: 'integer', minimum: 0, maximum: 86400000, default: 10000 },
        maxDevices: { type: 'integer', minimum: 1, maximum: 10000000, default: 10000 },
      },
    },
    watch: { type: 'boolean', default: true },
    debounceMs: { type: 'integer', minimum: 0, maximum: 60000, default: 100 },
    batchMax: { type: 'integer', minimum: 1, maximum: 1024, default: 256 },
    batchTurns: { type: 'integer', minimum: 0, maximum: 16, default: 2 },
    threads: { type: 'integer', minimum: 0, maximum: 64, default: 2 },
  },
} as const;
