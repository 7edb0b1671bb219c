export * from './load.js';
export * from './types.js';
export { configSchema } from './schema.js';
