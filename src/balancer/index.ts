export * from './types.js';
export { createBalancer, type BalancerOptions } from './balancer.js';
export type { Clock } from './clock.js';
export type { Strategy, StrategyEndpoint } from './strategies/strategy.js';
