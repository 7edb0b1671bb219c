/**
 * CONNECT, checked from its raw bytes before mqtt-packet reads it (MQTT 5.0
 * §3.1, 3.1.1 §3.1): the protocol name and level, the connect flags, v5
 * CONNECT and Will properties (properties.ts), every string well-formed
 * UTF-8 without U+0000, and nothing after the last field the flags announce.
 * Will topic wildcards, a retained Will and Will QoS above Maximum QoS are
 * refused later by the connect stages (handlers/connect.ts), with their own
 * CONNACK codes.
 */
import { Cursor, hasWildcard } from './cursor.js';
import { PT, checkProperties } from './properties.js';
import { RC } from './reason-codes.js';
import { MqttProtocolViolation, malformed, protocolError } from './violation.js';

/** The protocol level byte of a CONNECT named MQTT (0 when it is too short to say or names another protocol). */
export function connectLevel(frame: Buffer, bodyStart: number): number {
  if (frame.length < bodyStart + 7 || frame.toString('latin1', bodyStart, bodyStart + 6) !== '\x00\x04MQTT') return 0;
  return frame[bodyStart + 6]!;
}

const AUTHENTICATION_METHOD = 0x15;
const AUTHENTICATION_DATA = 0x16;

export function validateConnect(frame: Buffer, bodyStart: number): void {
  const level = connectLevel(frame, bodyStart);
  const v5 = level === 5;
  // 3.1.1 and v5 alike: reserved flags 0000 (v5 [MQTT-2.1.3-1], 3.1.1 [MQTT-2.2.2-2]).
  if ((frame[0]! & 0x0f) !== 0) throw malformed(v5 ? 'MQTT-2.1.3-1' : 'MQTT-2.2.2-2', 'CONNECT with fixed-header flags set');
  const r = new Cursor(frame, bodyStart, frame.length, 'CONNECT', v5);
  const name = r.frame.toString('latin1', r.binary('protocol name'), r.pos);
  const version = r.u8('protocol level');
  if (name === 'MQIsdp' && version === 3) throw unsupportedLevel(version);
  // [MQTT-3.1.2-1]: another protocol name — the connection is closed.
  if (name !== 'MQTT') throw malformed('MQTT-3.1.2-1', `protocol name '${name}' is not MQTT`);
  // [MQTT-3.1.2-2]: levels other than 4 and 5 (bridge bit 0x80 included) get CONNACK 0x01.
  if (version !== 4 && version !== 5) throw unsupportedLevel(version);
  const flags = r.u8('connect flags');
  // [MQTT-3.1.2-3]: the reserved flag must be 0.
  if (flags & 0x01) throw malformed('MQTT-3.1.2-3', 'CONNECT reserved flag set');
  const will = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 3;
  const willRetain = (flags & 0x20) !== 0;
  const hasUser = (flags & 0x80) !== 0;
  const hasPassword = (flags & 0x40) !== 0;
  if (will && willQos === 3) throw malformed(v5 ? 'MQTT-3.1.2-12' : 'MQTT-3.1.2-14', 'Will QoS 3');
  if (!will && willQos !== 0) throw malformed(v5 ? 'MQTT-3.1.2-11' : 'MQTT-3.1.2-13', 'Will QoS set without a Will');
  if (!will && willRetain) throw malformed(v5 ? 'MQTT-3.1.2-13' : 'MQTT-3.1.2-15', 'Will Retain set without a Will');
  // 3.1.1 only [MQTT-3.1.2-22]: a password needs a user name (v5 allows a password alone, §3.1.2.9).
  if (!v5 && hasPassword && !hasUser) throw malformed('MQTT-3.1.2-22', 'password flag set without the user name flag');
  r.u16('keep alive');
  if (v5) {
    const props = checkProperties(r, PT.CONNECT);
    // MQTT 5.0 §3.1.2.11.10: Authentication Data without an Authentication Method.
    if (props.ids.has(AUTHENTICATION_DATA) && !props.ids.has(AUTHENTICATION_METHOD))
      throw protocolError('MQTT-3.1.2.11.10', 'Authentication Data without an Authentication Method');
  }
  r.stringBytes('client identifier'); // [MQTT-3.1.3-4]
  if (will) {
    if (v5) {
      const props = checkProperties(r, PT.WILL);
      const rt = props.responseTopic;
      if (rt && hasWildcard(frame, rt[0], rt[1])) throw protocolError('MQTT-3.3.2-14', 'Will Response Topic contains a wildcard');
    }
    r.stringBytes('will topic'); // [MQTT-3.1.3-10 v3]: a UTF-8 Encoded String
    r.binary('will payload');
  }
  if (hasUser) r.stringBytes('user name'); // [MQTT-3.1.3-11 v3] / [MQTT-3.1.3-12]
  if (hasPassword) r.binary('password');
  // [MQTT-3.1.3-1]: the payload holds exactly the fields its flags announce (3.1.1 [MQTT-3.1.2-16], [MQTT-3.1.2-18]).
  if (r.remaining > 0) throw malformed('MQTT-3.1.3-1', `${r.remaining} bytes after the last CONNECT field`);
}

function unsupportedLevel(level: number): MqttProtocolViolation {
  return new MqttProtocolViolation('protocol-error', RC.UNSUPPORTED_PROTOCOL_VERSION, 'MQTT-3.1.2-2', `protocol level ${level} is not supported`);
}
