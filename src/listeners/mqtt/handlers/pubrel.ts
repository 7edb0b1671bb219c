/**
 * PUBREL from the client: the second half of an inbound QoS 2 exchange
 * (MQTT 5.0 §4.3.3). The packet id is released and PUBCOMP sent; from then
 * on a PUBLISH with this id is a new message [MQTT-4.3.3-10].
 */
import type { IPubrelPacket } from 'mqtt-packet';
import type { MqttSession } from '../session.js';
import { QOS2_DISPATCHING } from '../inbound.js';
import { RC } from '../reason-codes.js';
import { protocolError } from '../violation.js';

export function handlePubrel(c: MqttSession, p: IPubrelPacket): void {
  const id = p.messageId ?? 0;
  if (c.inbound.release(id)) {
    c.wire.simpleAck('pubcomp', id);
    return;
  }
  if (c.inbound.qos2State(id) === QOS2_DISPATCHING) {
    // PUBREL answers PUBREC [MQTT-4.3.3-8]; none was sent yet.
    throw protocolError('MQTT-4.3.3-8', `PUBREL for packet ${id} before PUBREC`);
  }
  // Unknown id: v5 PUBCOMP 0x92 Packet Identifier not found; v3.1.1 PUBCOMP (a retransmitted PUBREL after a completed exchange).
  c.wire.ack('pubcomp', id, RC.PACKET_IDENTIFIER_NOT_FOUND, c.version === 5 ? `no QoS 2 exchange open for packet ${id}` : undefined);
}
