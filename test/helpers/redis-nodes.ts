/**
 * Gateway processes (dist/cli.js) sharing state through one redis-server:
 * each node gets an MQTT listener and an admin API on free loopback ports,
 * `state.backend: redis` with a short heartbeat and node TTL, and whatever
 * configuration the test adds.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listenerPort, startCli, type Running } from './cli-process.js';

export interface RedisNode {
  readonly id: string;
  /** The MQTT listener's port. */
  readonly port: number;
  /** The admin API's base URL, without a trailing slash. */
  readonly admin: string;
  readonly run: Running;
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
  const config = {
    listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
    pools: [{ name: 'default', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
    routes: [{ match: { address: '#' }, pool: 'default' }],
    admin: { host: '127.0.0.1', port: 0 },
    guard: { stateDir: join(o.dir, id) },
    state: { backend: 'redis', url: o.redisUrl, keyPrefix: o.keyPrefix, heartbeatMs: 200, nodeTtlMs: 1500 },
    node: { id },
    ...o.extra,
  };
  const file = join(o.dir, `${id}.json`);
  writeFileSync(file, JSON.stringify(config));
  const run = startCli(file);
  const started = await run.waitLog((l) => l.msg === 'thinggate started', 60_000);
  return { id, port: await listenerPort(run), admin: String(started.admin).replace(/\/$/, ''), run };
}

/** Ends a node with `signal` (SIGTERM: a clean stop; SIGKILL: a crash) and waits for it to exit. */
export async function stopRedisNode(n: RedisNode | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!n || n.run.child.exitCode !== null || n.run.child.signalCode !== null) return;
  n.run.child.kill(signal);
  await n.run.exited;
}
