/**
 * Gateway processes (dist/cli.js) sharing state through one redis-server:
 * each node is a startGateway process (cli-process.ts: an MQTT listener and
 * an admin API on free loopback ports) with `state.backend: redis`, a short
 * heartbeat and node TTL, ban state of its own, and whatever configuration
 * the test adds.
 */
import { join } from 'node:path';
import { startGateway, stopGateway, type GatewayProcess } from './cli-process.js';

export interface RedisNode extends GatewayProcess {
  readonly id: string;
}

export interface RedisNodeOptions {
  /** A directory of the test's own (configuration files, ban state). */
  readonly dir: string;
  readonly redisUrl: string;
  readonly keyPrefix: string;
  /** Merged over the node's configuration (top-level sections replaced). */
  readonly extra?: Record<string, unknown>;
}

export async function startRedisNode(id: string, o: RedisNodeOptions): Promise<RedisNode> {
  const node = await startGateway(join(o.dir, `${id}.json`), {
    guard: { stateDir: join(o.dir, id) },
    state: { backend: 'redis', url: o.redisUrl, keyPrefix: o.keyPrefix, heartbeatMs: 200, nodeTtlMs: 1500 },
    node: { id },
    ...o.extra,
  });
  return { id, ...node };
}

/** Ends a node with `signal` (SIGTERM: a clean stop; SIGKILL: a crash) and waits for it to exit. */
export { stopGateway as stopRedisNode };
