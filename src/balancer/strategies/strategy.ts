/**
 * The balancing-strategy extension point: pick one endpoint of a pool for one
 * request. Every strategy passes the shared contract suite in
 * test/unit/balancer/strategy.contract.ts.
 */
export interface StrategyEndpoint {
  readonly url: string;
  readonly weight: number;
  /** Requests in flight to this endpoint now. */
  readonly inflight: number;
  /** False while ejected or failing health checks (true for all in panic mode). */
  readonly available: boolean;
  /** Latency EWMA in milliseconds; 0 before the first response. */
  readonly ewmaMs: number;
}

export interface Strategy {
  readonly name: string;
  /**
   * Returns the index of the chosen endpoint among `endpoints` (the pool's
   * full list, in configuration order), or -1 when none is available. `key`
   * is the request's affinity key; `exclude` lists indexes tried already.
   */
  pick(endpoints: readonly StrategyEndpoint[], key: string, exclude?: ReadonlySet<number>): number;
}

/** True when endpoint `i` may be picked. */
export function eligible(endpoints: readonly StrategyEndpoint[], i: number, exclude?: ReadonlySet<number>): boolean {
  return endpoints[i]!.available && (exclude === undefined || !exclude.has(i));
}

/** Pool settings a strategy may read. */
export interface StrategyOptions {
  /** Bounded-load factor for consistent-hash (`pools[].hashLoadFactor`). */
  readonly hashLoadFactor?: number;
}

/** A strategy registration: one name in `pools[].strategy`, one fresh Strategy per pool. */
export interface StrategyFactory {
  readonly name: string;
  create(options: StrategyOptions): Strategy;
}

/** Builds a pool's strategy by its configured name (the composition root answers from the strategy registry). */
export type StrategyLookup = (name: string, options: StrategyOptions) => Strategy;
