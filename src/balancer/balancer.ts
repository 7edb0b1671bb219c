/**
 * The balancer: the set of pools built from one configuration. A reload
 * builds a new balancer aside; the old one finishes its in-flight requests
 * and is closed.
 */
import type { PoolConfig } from '../config/types.js';
import { BackendPool } from './pool.js';
import type { Balancer, PoolStats, UpstreamRequest, UpstreamResult } from './types.js';

export class PoolBalancer implements Balancer {
  private readonly pools = new Map<string, BackendPool>();

  constructor(configs: readonly PoolConfig[]) {
    for (const c of configs) this.pools.set(c.name, new BackendPool(c));
  }

  dispatch(request: UpstreamRequest): Promise<UpstreamResult> {
    const pool = this.pools.get(request.pool);
    if (!pool) {
      return Promise.resolve({ kind: 'unavailable', code: 'TG_ERR_POOL_UNKNOWN', reason: `no pool named '${request.pool}'` });
    }
    return pool.dispatch(request);
  }

  hasPool(name: string): boolean {
    return this.pools.has(name);
  }

  stats(): PoolStats[] {
    return [...this.pools.values()].map((p) => p.stats());
  }

  async close(timeoutMs = 10_000): Promise<void> {
    const idle = Promise.all([...this.pools.values()].map((p) => p.idle()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([idle, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }
}

/** Builds the balancer for a configuration's pools. */
export function createBalancer(pools: readonly PoolConfig[]): Balancer {
  return new PoolBalancer(pools);
}
