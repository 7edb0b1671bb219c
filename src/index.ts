/** thinggate's public API for embedding and tests. */
export { Gateway, type GatewayOptions, type ScriptHostFactory } from './gateway.js';
export * from './config/index.js';
export * from './envelope/index.js';
export * from './errors.js';
export { createLogger, silentLogger } from './observability/logger.js';
export { Metrics } from './observability/metrics.js';
export type { Listener, ListenerContext, Pipeline, ClientInfo, Admission } from './listeners/listener.js';
export type { Balancer, UpstreamRequest, UpstreamResult } from './balancer/types.js';
export type { Decision } from './routing/decision.js';
export type { ScriptHost, ScriptResult } from './routing/script-host.js';
