/**
 * The listener extension point. Built-in protocols (mqtt/, coap/, amqp/,
 * http/) and plugins' protocols are registered by name in the listener
 * registry (plugins/builtins.ts, plugins/load.ts); the composition root
 * builds each configured listener from there.
 */
export type * from './listener.js';
