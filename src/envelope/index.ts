export * from './envelope.js';
export * from './outcome.js';
export * from './ids.js';
export * from './content-type.js';
export * from './address-pattern.js';
export * from './pipeline-contract.js';
export * from './codec.js';
