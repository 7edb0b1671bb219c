/**
 * The built-in listeners, strategies and codecs, registered through the same
 * registries and the same calls plugins use (owner `thinggate`).
 */
import { createAmqpListener } from '../listeners/amqp/index.js';
import { createCoapListener } from '../listeners/coap/index.js';
import { createHttpListener } from '../listeners/http/index.js';
import { createMqttListener } from '../listeners/mqtt/index.js';
import type { ListenerFactory } from '../listeners/listener.js';
import { BUILTIN_STRATEGIES } from '../balancer/strategies/index.js';
import { BUILTIN_CODECS } from './builtin-codecs.js';
import { Registries } from './registry.js';

const BUILTIN_LISTENERS: ReadonlyArray<readonly [string, 'tcp' | 'udp', ListenerFactory]> = [
  ['mqtt', 'tcp', createMqttListener],
  ['mqtt-ws', 'tcp', createMqttListener],
  ['coap', 'udp', createCoapListener],
  ['amqp', 'tcp', createAmqpListener],
  ['http', 'tcp', createHttpListener],
];

/** Fresh registries holding the built-ins; the plugin loader adds the configured plugins' contributions. */
export function builtinRegistries(): Registries {
  const r = new Registries();
  for (const [name, transport, factory] of BUILTIN_LISTENERS)
    r.listeners.register({ name, transport, ...(name === 'mqtt-ws' && { envelopeProtocol: 'mqtt' }), create: (context) => factory(context) }, 'thinggate');
  for (const s of BUILTIN_STRATEGIES) r.strategies.register(s, 'thinggate');
  for (const c of BUILTIN_CODECS) r.codecs.register(c, 'thinggate');
  return r;
}
