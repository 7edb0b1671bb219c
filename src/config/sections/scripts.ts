/** Schema and types of the `scripts` section: limits applied to every routing script. */
export interface ScriptsConfig {
  /** Heap limit of each script's isolate, in MiB. */
  readonly memoryMb: number;
  /** CPU time limit of one call (one message's `onMessage`, one `onResponse`, one `onConnect`), in ms. */
  readonly timeoutMs: number;
  /**
   * `ctx.state` bounds, per script (on every node), and whether the state is
   * shared between nodes through the redis state backend (default: whenever
   * that backend is configured).
   */
  readonly state: { readonly maxEntries: number; readonly maxBytes: number; readonly shared?: boolean };
  /** `ctx.log` rate limit, per script (token bucket). */
  readonly log: { readonly perSecond: number; readonly burst: number };
  /**
   * Throttle after repeated failures: per device (protocol and client id), and
   * per remote address whatever the client id (so rotating client ids does not escape it).
   */
  readonly throttle: { readonly failures: number; readonly addressFailures: number; readonly cooldownMs: number; readonly maxDevices: number };
  /** Most bytes the decisions of one message may carry (bodies, payloads, headers, every string). */
  readonly maxDecisionBytes: number;
  /** Most bytes the decisions of one batch call may carry; a batch over it crosses in several calls. */
  readonly maxBatchDecisionBytes: number;
  /** Suspension of a script that keeps running out of time, with exponential back-off. */
  readonly suspend: { readonly timeouts: number; readonly initialMs: number; readonly maxMs: number };
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
        shared: { type: 'boolean' },
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
        addressFailures: { type: 'integer', minimum: 1, maximum: 1000000, default: 50 },
        cooldownMs: { type: 'integer', minimum: 0, maximum: 86400000, default: 10000 },
        maxDevices: { type: 'integer', minimum: 1, maximum: 10000000, default: 10000 },
      },
    },
    maxDecisionBytes: { type: 'integer', minimum: 1024, maximum: 1073741824, default: 1048576 },
    maxBatchDecisionBytes: { type: 'integer', minimum: 1024, maximum: 1073741824, default: 4194304 },
    suspend: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        timeouts: { type: 'integer', minimum: 1, maximum: 1000000, default: 3 },
        initialMs: { type: 'integer', minimum: 0, maximum: 86400000, default: 1000 },
        maxMs: { type: 'integer', minimum: 0, maximum: 86400000, default: 60000 },
      },
    },
    watch: { type: 'boolean', default: true },
    debounceMs: { type: 'integer', minimum: 0, maximum: 60000, default: 100 },
    batchMax: { type: 'integer', minimum: 1, maximum: 1024, default: 256 },
    batchTurns: { type: 'integer', minimum: 0, maximum: 16, default: 2 },
    threads: { type: 'integer', minimum: 0, maximum: 64, default: 2 },
  },
} as const;

/**
 * What the schema cannot say: a message's decisions exist in its isolate two
 * or three times over while they are copied out, so they must fit a quarter
 * of its heap (a larger bound would turn an oversized decision into a memory
 * failure of the whole call instead of a refusal of that message).
 */
export function scriptsProblems(c: ScriptsConfig): string[] {
  const out: string[] = [];
  const quarter = (c.memoryMb * 1024 * 1024) / 4;
  if (c.maxDecisionBytes > quarter) {
    out.push(`/scripts/maxDecisionBytes: must be at most a quarter of memoryMb (${quarter} bytes with memoryMb ${c.memoryMb})`);
  }
  if (c.suspend.maxMs < c.suspend.initialMs) out.push(`/scripts/suspend/maxMs: must be at least suspend.initialMs (${c.suspend.initialMs})`);
  return out;
}
