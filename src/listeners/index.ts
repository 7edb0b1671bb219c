/**
 * Listener factories by configured protocol. The composition root builds each
 * configured listener through this table.
 */
import type { ListenerFactory } from './listener.js';
import type { ListenerProtocol } from '../config/types.js';
import { createMqttListener } from './mqtt/index.js';
import { createAmqpListener } from './amqp/index.js';
import { createCoapListener } from './coap/index.js';
import { createHttpListener } from './http/index.js';

export const LISTENER_FACTORIES: Partial<Record<ListenerProtocol, ListenerFactory>> = {
  mqtt: createMqttListener,
  'mqtt-ws': createMqttListener,
  amqp: createAmqpListener,
  coap: createCoapListener,
  http: createHttpListener,
};

export type * from './listener.js';
