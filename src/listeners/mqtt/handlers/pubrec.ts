/** PUBREC from the client: first answer to an outbound QoS 2 delivery (MQTT 5.0 §3.5, §4.3.3). */
import type { IPubrecPacket } from 'mqtt-packet';
import type { MqttSession } from '../session.js';

export function handlePubrec(c: MqttSession, p: IPubrecPacket): void {
  c.out.onPubrec(p.messageId ?? 0, p.reasonCode ?? 0);
}
