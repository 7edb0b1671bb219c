/**
 * The balancer: the set of pools built from one configuration. A reload
 * builds a new balancer aside; the old one finishes its in-flight requests
 * and is closed.
 */
import type { StrategyLookup } from './strategies/strategy.js';
import type { Logger } from 'pino';
import type { PoolConfig } from '../config/types.js';
import type { Metrics } from '../observability/metrics.js';
import { silentLogger } from '../observability/logger.js';
import { systemClock, type Clock } from './clock.js';
import { BackendPool } from './pool.js';
import type { Balancer, PoolStats, UpstreamRequest, UpstreamResult } from './types.js';

export interface BalancerOptions {
  /** Folder relative TLS files and spool directories resolve against (the configuration's folder). */
  readonly baseDir?: string;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** Time source for health checks, ejection and backoff (tests inject one). */
  readonly clock?: Clock;
  /** Builds each pool's strategy by name (the composition root passes the strategy registry); default the built-ins. */
  readonly strategies?: StrategyLookup;
}

class PoolBalancer implements Balancer {
  private readonly pools = new Map<string, BackendPool>();

  constructor(configs: readonly PoolConfig[], options: BalancerOptions = {}) {
    const logger = (options.logger ?? silentLogger()).child({ stage: 'balancer' });
    try {
      configs.forEach((c, i) => {
        this.pools.set(
          c.name,
          new BackendPool(c, {
            baseDir: options.baseDir ?? process.cwd(),
            logger,
            ...(options.metrics && { metrics: options.metrics }),
            clock: options.clock ?? systemClock,
            at: `/pools/${i}`,
            ...(options.strategies && { strategies: options.strategies }),
          }),
        );
      });
    } catch (err) {
      // A pool that cannot be built (unreadable TLS file) leaves no half-built pools running.
      for (const p of this.pools.values()) void p.close();
      throw err;
    }
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

  setDrained(pool: string, url: string, drained: boolean): boolean | undefined {
    return this.pools.get(pool)?.setDrained(url, drained);
  }

  async close(timeoutMs = 10_000): Promise<void> {
    for (const p of this.pools.values()) p.quiesce();
    const idle = Promise.all([...this.pools.values()].map((p) => p.idle()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([idle, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }
}

/**
 * Builds the balancer for a configuration's pools.
 *
 * @example
 * const balancer = createBalancer(config.pools, { baseDir: config.baseDir, logger, metrics });
 * const result = await balancer.dispatch(request);
 */
export function createBalancer(pools: readonly PoolConfig[], options: BalancerOptions = {}): Balancer {
  return new PoolBalancer(pools, options);
}
