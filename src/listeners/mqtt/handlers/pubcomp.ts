/** PUBCOMP from the client: completes an outbound QoS 2 delivery (MQTT 5.0 §3.7). */
import type { IPubcompPacket } from 'mqtt-packet';
import type { MqttConnection } from '../connection.js';

export function handlePubcomp(c: MqttConnection, p: IPubcompPacket): void {
  c.out.onPubcomp(p.messageId ?? 0);
}
