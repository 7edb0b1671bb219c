/**
 * Schema and types of the `state`, `node` and `workers` sections: where
 * shared device state lives (docs/scaling.md), what this process is called
 * among its peers, and how many worker processes share its sockets.
 */

export interface StateConfig {
  /** `embedded`: in this process only (the default); `redis`: shared by every node and worker pointing at the same Redis. */
  readonly backend: 'embedded' | 'redis';
  /** redis://[user:password@]host:port[/db]; required for the redis backend. Never logged with its password. */
  readonly url?: string;
  /** Prepended to every Redis key and channel, so several deployments can share one Redis. */
  readonly keyPrefix: string;
  /** How often this node renews its presence heartbeat. */
  readonly heartbeatMs: number;
  /** A node whose heartbeat is older than this is dead: its devices' presence entries no longer count. */
  readonly nodeTtlMs: number;
  /**
   * Embedded backend: keep persistent MQTT sessions (subscriptions, queued
   * messages) and retained messages on disk so they survive a restart
   * (default true); false keeps them in memory only. Redis keeps them in
   * Redis whatever this says, so it may be set only with `embedded`.
   */
  readonly durable?: boolean;
  /** Embedded backend: folder of the session and retained databases (default guard.stateDir); relative to the configuration file. */
  readonly directory?: string;
}

export interface NodeConfig {
  /** This process's name among the nodes (logs, metrics, admin API, presence); default `<hostname>-<pid>`. */
  readonly id?: string;
}

export const stateSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    backend: { enum: ['embedded', 'redis'], default: 'embedded' },
    url: { type: 'string', pattern: '^rediss?://' },
    keyPrefix: { type: 'string', minLength: 1, maxLength: 64, default: 'thinggate:' },
    heartbeatMs: { type: 'integer', minimum: 100, maximum: 60000, default: 2000 },
    nodeTtlMs: { type: 'integer', minimum: 300, maximum: 600000, default: 6000 },
    durable: { type: 'boolean' },
    directory: { type: 'string', minLength: 1 },
  },
} as const;

export const nodeSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
  },
} as const;

/** `workers: N` runs N processes on the same sockets (node:cluster); 1 is a single process. */
export const workersSchema = { type: 'integer', minimum: 1, maximum: 64, default: 1 } as const;

/** Cross-section checks of the state, node and workers sections. */
export function stateProblems(c: {
  readonly state: StateConfig;
  readonly workers: number;
  readonly node: NodeConfig;
  readonly scripts?: { readonly state: { readonly shared?: boolean } };
}): string[] {
  const out: string[] = [];
  if (c.state.backend === 'embedded' && c.scripts?.state.shared !== undefined) {
    out.push("/scripts/state/shared: has no effect unless /state/backend is 'redis' (one node has nothing to share)");
  }
  if (c.state.backend === 'redis' && c.state.url === undefined) out.push("/state/url: is required when /state/backend is 'redis'");
  if (c.state.backend === 'embedded' && c.state.url !== undefined) out.push("/state/url: has no effect unless /state/backend is 'redis'");
  for (const key of ['durable', 'directory'] as const) {
    if (c.state.backend === 'redis' && c.state[key] !== undefined)
      out.push(`/state/${key}: has no effect unless /state/backend is 'embedded' (Redis keeps sessions and retained messages)`);
  }
  if (c.state.nodeTtlMs <= c.state.heartbeatMs) out.push(`/state/nodeTtlMs: must be longer than /state/heartbeatMs (${c.state.heartbeatMs})`);
  if (c.workers > 1 && c.state.backend === 'embedded') {
    out.push(
      "/workers: several workers need /state/backend 'redis': with the embedded backend each worker would keep its own presence, bans and subscriptions, so takeover, bans and device-to-device delivery would silently work only within one worker",
    );
  }
  if (c.workers > 1 && c.node.id !== undefined) out.push('/node/id: cannot be set with /workers > 1 (each worker names itself <hostname>-<pid>-w<N>)');
  return out;
}
