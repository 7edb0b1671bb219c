/**
 * MQTT 3.1.1 and 5.0 listener (server side) over TCP, TLS and WebSocket.
 * See docs/mqtt.md for behaviour, options and the outcome mapping.
 */
import type { ListenerFactory } from '../listener.js';
import { MqttListener } from './listener.js';

/** Builds the listener for `protocol: mqtt` and `protocol: mqtt-ws`. */
export const createMqttListener: ListenerFactory = (context) => new MqttListener(context);

export { MqttListener } from './listener.js';
export { MqttProtocolViolation } from './violation.js';
export { outcomeReasonCode } from './reason-codes.js';
