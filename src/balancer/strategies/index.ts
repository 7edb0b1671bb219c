/**
 * The built-in balancing strategies, as registrations: a name and a factory.
 * plugins/builtins.ts registers them in the strategy registry, beside any a
 * plugin contributes; pools look strategies up by name there.
 */
import { ConsistentHash } from './consistent-hash.js';
import { LeastOutstanding } from './least-outstanding.js';
import { P2cEwma } from './p2c-ewma.js';
import { RoundRobin } from './round-robin.js';
import type { Strategy, StrategyFactory, StrategyOptions } from './strategy.js';
import { ThinggateError } from '../../errors.js';
import { Weighted } from './weighted.js';

export type { Strategy, StrategyEndpoint, StrategyFactory, StrategyOptions } from './strategy.js';

export const BUILTIN_STRATEGIES: readonly StrategyFactory[] = [
  { name: 'round-robin', create: () => new RoundRobin() },
  { name: 'weighted', create: () => new Weighted() },
  { name: 'least-outstanding', create: () => new LeastOutstanding() },
  { name: 'consistent-hash', create: (o) => new ConsistentHash(o.hashLoadFactor ?? 1.25) },
  { name: 'p2c-ewma', create: () => new P2cEwma() },
];

/** A built-in strategy by name (for a balancer built without a registry, as unit tests do). Throws on an unknown name. */
export function builtinStrategy(name: string, options: StrategyOptions = {}): Strategy {
  const factory = BUILTIN_STRATEGIES.find((s) => s.name === name);
  if (!factory) throw new ThinggateError('TG_ERR_CONFIG_INVALID', `no balancing strategy named '${name}'`);
  return factory.create(options);
}
