export * from './decision.js';
export * from './script-host.js';
export * from './route-table.js';
export * from './pipeline.js';
