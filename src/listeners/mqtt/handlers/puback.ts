/** PUBACK from the client: completes an outbound QoS 1 delivery (MQTT 5.0 §3.4). */
import type { IPubackPacket } from 'mqtt-packet';
import type { MqttConnection } from '../connection.js';

export function handlePuback(c: MqttConnection, p: IPubackPacket): void {
  c.out.onPuback(p.messageId ?? 0);
}
