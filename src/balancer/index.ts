export * from './types.js';
export { createBalancer } from './balancer.js';
