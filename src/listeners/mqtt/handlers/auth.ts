/**
 * AUTH (MQTT 5.0 §3.15). thinggate offers no enhanced authentication: a
 * CONNECT naming an Authentication Method is refused with CONNACK 0x8C, so an
 * AUTH packet is never expected — receiving one is a Protocol Error
 * (MQTT 5.0 §4.12: a client that named no method must not send AUTH).
 */
import type { IAuthPacket } from 'mqtt-packet';
import type { MqttSession } from '../session.js';
import { protocolError } from '../violation.js';

export function handleAuth(_c: MqttSession, _p: IAuthPacket): void {
  throw protocolError('MQTT-4.12', 'AUTH without an authentication method in CONNECT');
}
