/**
 * A protocol violation by the peer. Handlers throw it; the connection catches
 * it, reports a security event, answers with the v5 reason code (DISCONNECT,
 * or CONNACK before the session is up) and closes the connection.
 */
import { ThinggateError } from '../../errors.js';
import { RC } from './reason-codes.js';

export class MqttProtocolViolation extends ThinggateError {
  constructor(
    /** Security-event kind: 'malformed-packet', 'protocol-error', 'oversize', ... */
    readonly kind: string,
    /** The MQTT 5 reason code sent to the client (v5 only; v3.1.1 connections are just closed). */
    readonly reasonCode: number,
    /** Spec clause, e.g. 'MQTT-3.1.0-1'. */
    readonly clause: string | undefined,
    detail: string,
  ) {
    super('TG_ERR_MQTT_PROTOCOL', detail, { status: 400 });
    this.name = 'MqttProtocolViolation';
  }
}

/** A Protocol Error (0x82) citing `clause`. */
export function protocolError(clause: string | undefined, detail: string): MqttProtocolViolation {
  return new MqttProtocolViolation('protocol-error', RC.PROTOCOL_ERROR, clause, detail);
}

/** A Malformed Packet (0x81) citing `clause`. */
export function malformed(clause: string | undefined, detail: string): MqttProtocolViolation {
  return new MqttProtocolViolation('malformed-packet', RC.MALFORMED_PACKET, clause, detail);
}

/** [MQTT-3.3.4-9]: more unacknowledged QoS 1/2 PUBLISHes than the Receive Maximum announced (0x93). */
export function receiveMaximumExceeded(max: number): MqttProtocolViolation {
  return new MqttProtocolViolation('flood', RC.RECEIVE_MAXIMUM_EXCEEDED, 'MQTT-3.3.4-9', `more than ${max} unacknowledged QoS 1/2 messages`);
}
