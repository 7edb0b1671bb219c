/** PUBCOMP from the client: completes an outbound QoS 2 delivery (MQTT 5.0 §3.7). */
import type { IPubcompPacket } from 'mqtt-packet';
import type { MqttSession } from '../session.js';

export function handlePubcomp(c: MqttSession, p: IPubcompPacket): void {
  c.out.onPubcomp(p.messageId ?? 0);
}
