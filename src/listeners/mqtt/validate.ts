/**
 * The validation layer between framing and the packet handlers. mqtt-packet
 * decodes leniently (a truncated PUBREC gets packet id 65535, a DISCONNECT
 * with a bad reason code is still emitted); thinggate owns the rules, read
 * here from each packet's raw bytes, so that every handler sees only packets
 * that are well-formed for their type and protocol version. A violation
 * throws MqttProtocolViolation naming its clause and reason code; the
 * connection reports it to the guard and closes (v5: DISCONNECT or CONNACK
 * with the code; 3.1.1: close, [MQTT-4.8.0-1]).
 *
 * PUBLISH is checked by its decoder (decode-publish.ts), CONNECT by
 * validate-connect.ts.
 */
import { Cursor } from './cursor.js';
import { PACKET_NAMES, PT, checkProperties } from './properties.js';
import { malformed, protocolError } from './violation.js';
import { validateConnect } from './validate-connect.js';

/** Reason codes a client may send, per packet (MQTT 5.0 §3.4.2.1, §3.5.2.1, §3.6.2.1, §3.7.2.1, §3.14.2.1). */
const PUBACK_CODES = new Set([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]);
const PUBREL_CODES = new Set([0x00, 0x92]);
const CLIENT_DISCONNECT_CODES = new Set([0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99]);

/** The clause each acknowledgement's reason code rule comes from. */
const REASON_CLAUSE: Readonly<Record<number, string>> = {
  [PT.PUBACK]: 'MQTT-3.4.2-1',
  [PT.PUBREC]: 'MQTT-3.5.2-1',
  [PT.PUBREL]: 'MQTT-3.6.2-1',
  [PT.PUBCOMP]: 'MQTT-3.7.2-1',
};

/**
 * Checks one framed packet other than a v4/v5 PUBLISH. `version` is the
 * connection's protocol level (0 before CONNECT: only CONNECT is checked
 * then; anything else is refused by the dispatcher [MQTT-3.1.0-1]).
 */
export function validatePacket(frame: Buffer, bodyStart: number, version: number): void {
  const type = frame[0]! >> 4;
  if (version === 0) {
    if (type === PT.CONNECT) validateConnect(frame, bodyStart);
    return;
  }
  const v5 = version === 5;
  const flags = frame[0]! & 0x0f;
  const name = PACKET_NAMES[type]!;
  switch (type) {
    case PT.CONNECT:
      return; // a second CONNECT is refused by the dispatcher [MQTT-3.1.0-2]
    case PT.PUBACK:
    case PT.PUBREC:
    case PT.PUBREL:
    case PT.PUBCOMP:
      checkFlags(flags, type === PT.PUBREL ? 0b0010 : 0, name, v5);
      return validateAck(new Cursor(frame, bodyStart, frame.length, name, v5), type);
    case PT.SUBSCRIBE:
      checkFlags(flags, 0b0010, name, v5);
      return validateSubscribe(new Cursor(frame, bodyStart, frame.length, name, v5));
    case PT.UNSUBSCRIBE:
      checkFlags(flags, 0b0010, name, v5);
      return validateUnsubscribe(new Cursor(frame, bodyStart, frame.length, name, v5));
    case PT.PINGREQ:
      checkFlags(flags, 0, name, v5);
      // PINGREQ has no variable header and no payload (§3.12).
      if (frame.length > bodyStart) throw malformed(v5 ? 'MQTT-4.13.1-1' : 'MQTT-4.8.0-1', `PINGREQ with a ${frame.length - bodyStart}-byte body`);
      return;
    case PT.DISCONNECT:
      checkFlags(flags, 0, name, v5);
      return validateDisconnect(new Cursor(frame, bodyStart, frame.length, name, v5));
    case PT.AUTH:
      if (!v5) throw malformed('MQTT-2.2.1', 'packet type 15 is reserved in MQTT 3.1.1');
      checkFlags(flags, 0, name, v5);
      return; // refused by its handler: thinggate offers no enhanced authentication
    case PT.CONNACK:
    case PT.SUBACK:
    case PT.UNSUBACK:
    case PT.PINGRESP:
      throw protocolError('MQTT-2.1.3', `${name} is not a client packet`);
    default:
      throw malformed(v5 ? 'MQTT-2.1.2' : 'MQTT-2.2.1', 'packet type 0 is reserved');
  }
}

/** Reserved fixed-header flags must carry their listed value (v5 [MQTT-2.1.3-1]; 3.1.1 [MQTT-2.2.2-2]: close). */
function checkFlags(flags: number, want: number, name: string, v5: boolean): void {
  if (flags !== want) throw malformed(v5 ? 'MQTT-2.1.3-1' : 'MQTT-2.2.2-2', `${name} with fixed-header flags ${flags.toString(2).padStart(4, '0')}`);
}

/** A non-zero Packet Identifier (v5 [MQTT-2.2.1-3]; 3.1.1 [MQTT-2.3.1-1]). */
function packetId(r: Cursor): number {
  const id = r.u16('packet identifier');
  if (id === 0) throw malformed(r.v5 ? 'MQTT-2.2.1-3' : 'MQTT-2.3.1-1', `${r.packet} with packet identifier 0`);
  return id;
}

/** Nothing may follow the last field. */
function atEnd(r: Cursor, clause: string): void {
  if (r.remaining > 0) throw malformed(clause, `${r.remaining} bytes after the end of the ${r.packet}`);
}

/**
 * PUBACK, PUBREC, PUBREL, PUBCOMP. 3.1.1: exactly the packet id. v5: the
 * packet id, then optionally a reason code of that packet's set, then
 * optionally properties (Reason String, User Property) (§3.4.2).
 */
function validateAck(r: Cursor, type: number): void {
  if (!r.v5 && r.remaining !== 2) throw malformed('MQTT-4.8.0-1', `${r.packet} with remaining length ${r.remaining} (must be 2)`);
  if (r.remaining < 2) throw malformed('MQTT-4.13.1-1', `${r.packet} with remaining length ${r.remaining} (at least 2)`);
  packetId(r);
  if (r.remaining === 0) return;
  const code = r.u8('reason code');
  const allowed = type === PT.PUBACK || type === PT.PUBREC ? PUBACK_CODES : PUBREL_CODES;
  if (!allowed.has(code))
    throw malformed(REASON_CLAUSE[type], `${r.packet} reason code 0x${code.toString(16).padStart(2, '0')} is not one of its reason codes`);
  if (r.remaining === 0) return;
  checkProperties(r, type);
  atEnd(r, 'MQTT-4.13.1-1');
}

/** SUBSCRIBE (§3.8): packet id, v5 properties, then at least one filter with its options. */
function validateSubscribe(r: Cursor): void {
  packetId(r);
  if (r.v5) checkProperties(r, PT.SUBSCRIBE);
  // v5 [MQTT-3.8.3-2], 3.1.1 [MQTT-3.8.3-3]: at least one filter; none is a Protocol Error.
  if (r.remaining === 0) throw protocolError(r.v5 ? 'MQTT-3.8.3-2' : 'MQTT-3.8.3-3', 'SUBSCRIBE without a topic filter');
  while (r.remaining > 0) {
    const at = r.stringBytes('topic filter'); // [MQTT-3.8.3-1]: a UTF-8 Encoded String
    const options = r.u8('subscription options');
    if (r.v5) {
      // [MQTT-3.8.3-5]: bits 6 and 7 are reserved; QoS 3 and Retain Handling 3 are Protocol Errors (§3.8.3.1).
      if (options & 0xc0) throw malformed('MQTT-3.8.3-5', 'SUBSCRIBE options with reserved bits set');
      if ((options & 3) === 3) throw malformed('MQTT-3.8.3.1', 'SUBSCRIBE requests QoS 3');
      if (options >> 4 === 3) throw protocolError('MQTT-3.8.3.1', 'SUBSCRIBE with Retain Handling 3');
      // [MQTT-3.8.3-4]: No Local on a shared subscription.
      if (options & 0x04 && r.frame.toString('latin1', at, at + 7) === '$share/') throw protocolError('MQTT-3.8.3-4', 'No Local on a shared subscription');
    } else if (options & 0xfc || (options & 3) === 3) {
      // 3.1.1 [MQTT-3-8.3-4]: upper six bits zero, QoS 0..2; else close.
      throw malformed('MQTT-3-8.3-4', `SUBSCRIBE options byte 0x${options.toString(16).padStart(2, '0')}`);
    }
  }
}

/** UNSUBSCRIBE (§3.10): packet id, v5 properties (User Property only), then at least one filter. */
function validateUnsubscribe(r: Cursor): void {
  packetId(r);
  if (r.v5) checkProperties(r, PT.UNSUBSCRIBE);
  if (r.remaining === 0) throw protocolError('MQTT-3.10.3-2', 'UNSUBSCRIBE without a topic filter');
  while (r.remaining > 0) r.stringBytes('topic filter'); // [MQTT-3.10.3-1]
}

/**
 * DISCONNECT (§3.14). 3.1.1: no body. v5: optionally a client reason code,
 * then optionally properties (Session Expiry Interval, Reason String, User
 * Property, Server Reference). Only a DISCONNECT that passes this check can
 * discard the Will [MQTT-3.1.2-8].
 */
function validateDisconnect(r: Cursor): void {
  if (!r.v5) {
    if (r.remaining !== 0) throw malformed('MQTT-4.8.0-1', `DISCONNECT with a ${r.remaining}-byte body`);
    return;
  }
  if (r.remaining === 0) return;
  const code = r.u8('reason code');
  if (!CLIENT_DISCONNECT_CODES.has(code))
    throw malformed('MQTT-3.14.2-1', `DISCONNECT reason code 0x${code.toString(16).padStart(2, '0')} is not one a client may send`);
  if (r.remaining === 0) return;
  checkProperties(r, PT.DISCONNECT);
  atEnd(r, 'MQTT-4.13.1-1');
}
