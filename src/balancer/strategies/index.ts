/** Strategy factory: one name in the configuration, one implementation. */
import type { StrategyName } from '../../config/types.js';
import { ConsistentHash } from './consistent-hash.js';
import { LeastOutstanding } from './least-outstanding.js';
import { P2cEwma } from './p2c-ewma.js';
import { RoundRobin } from './round-robin.js';
import type { Strategy } from './strategy.js';
import { Weighted } from './weighted.js';

export type { Strategy, StrategyEndpoint } from './strategy.js';

export interface StrategyOptions {
  /** Bounded-load factor for consistent-hash. */
  readonly hashLoadFactor?: number;
}

/** Builds the strategy named in a pool's configuration. */
export function createStrategy(name: StrategyName, options: StrategyOptions = {}): Strategy {
  switch (name) {
    case 'round-robin':
      return new RoundRobin();
    case 'weighted':
      return new Weighted();
    case 'least-outstanding':
      return new LeastOutstanding();
    case 'consistent-hash':
      return new ConsistentHash(options.hashLoadFactor ?? 1.25);
    case 'p2c-ewma':
      return new P2cEwma();
  }
}
