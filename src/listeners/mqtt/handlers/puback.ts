/** PUBACK from the client: completes an outbound QoS 1 delivery (MQTT 5.0 §3.4). */
import type { IPubackPacket } from 'mqtt-packet';
import type { MqttSession } from '../session.js';

export function handlePuback(c: MqttSession, p: IPubackPacket): void {
  c.out.onPuback(p.messageId ?? 0);
}
