/**
 * PUBLISH decoding (MQTT 3.1.1 §3.3 and 5.0 §3.3), the one packet a
 * connection receives per message. Other packets go to mqtt-packet's parser;
 * this one is read here straight from the framed bytes: the payload and
 * correlation data are views of the read, not copies, and no parser state or
 * debug formatting is paid per message. The result has mqtt-packet's
 * IPublishPacket shape, so handlers see one kind of packet.
 *
 * Beyond mqtt-packet, a property that PUBLISH does not carry is a Malformed
 * Packet (MQTT 5.0 §2.2.2.2) and one given twice that may appear only once is
 * a Protocol Error (§3.3.2.3); mqtt-packet accepted both.
 */
import type { IPublishPacket, UserProperties } from 'mqtt-packet';
import { Cursor, hasWildcard } from './cursor.js';
import { malformed, protocolError } from './violation.js';

type Properties = NonNullable<IPublishPacket['properties']>;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** PUBLISH property identifiers (MQTT 5.0 §2.2.2.2). */
const PAYLOAD_FORMAT = 0x01;
const MESSAGE_EXPIRY = 0x02;
const CONTENT_TYPE = 0x03;
const RESPONSE_TOPIC = 0x08;
const CORRELATION_DATA = 0x09;
const SUBSCRIPTION_ID = 0x0b;
const TOPIC_ALIAS = 0x23;
const USER_PROPERTY = 0x26;

/**
 * Decodes one whole PUBLISH frame (fixed header included; the variable
 * header starts at `bodyStart`). Throws MqttProtocolViolation.
 */
export function decodePublish(frame: Buffer, bodyStart: number, v5: boolean): IPublishPacket {
  const flags = frame[0]!;
  const qos = (flags >> 1) & 3;
  if (qos === 3) throw malformed('MQTT-3.3.1-4', 'PUBLISH with both QoS bits set');
  const r = new Cursor(frame, bodyStart, frame.length, 'PUBLISH', v5);
  const topic = r.string('topic name');
  const messageId = qos > 0 ? r.u16('packet identifier') : undefined;
  let properties: Properties | undefined;
  if (v5) {
    const length = r.varInt('property length');
    if (length > 0) {
      const start = r.take(length, 'properties');
      properties = readProperties(new Cursor(frame, start, r.pos, 'PUBLISH', true));
    }
  }
  const packet: Mutable<IPublishPacket> = {
    cmd: 'publish',
    topic,
    payload: frame.subarray(r.pos),
    qos: qos as 0 | 1 | 2,
    dup: (flags & 0x08) !== 0,
    retain: (flags & 0x01) !== 0,
    length: frame.length - bodyStart,
  };
  if (messageId !== undefined) packet.messageId = messageId;
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function readProperties(r: Cursor): Properties {
  const props: Mutable<Properties> = {};
  while (r.pos < r.end) {
    const id = r.u8('property identifier');
    switch (id) {
      case PAYLOAD_FORMAT: {
        once(props.payloadFormatIndicator, 'payload format indicator');
        const v = r.u8('payload format indicator');
        if (v > 1) throw protocolError('MQTT-3.3.2.3.2', `PUBLISH payload format indicator ${v} is neither 0 nor 1`);
        props.payloadFormatIndicator = v === 1;
        break;
      }
      case MESSAGE_EXPIRY:
        once(props.messageExpiryInterval, 'message expiry interval');
        props.messageExpiryInterval = r.u32('message expiry interval');
        break;
      case TOPIC_ALIAS:
        once(props.topicAlias, 'topic alias');
        props.topicAlias = r.u16('topic alias');
        break;
      case CONTENT_TYPE:
        once(props.contentType, 'content type');
        props.contentType = r.string('content type');
        break;
      case RESPONSE_TOPIC: {
        once(props.responseTopic, 'response topic');
        const start = r.stringBytes('response topic');
        // [MQTT-3.3.2-14]: a Response Topic is a Topic Name, without wildcards.
        if (hasWildcard(r.frame, start, r.pos)) throw protocolError('MQTT-3.3.2-14', 'PUBLISH response topic contains a wildcard');
        props.responseTopic = r.frame.toString('utf8', start, r.pos);
        break;
      }
      case CORRELATION_DATA: {
        once(props.correlationData, 'correlation data');
        const start = r.take(r.u16('correlation data'), 'correlation data');
        props.correlationData = r.frame.subarray(start, r.pos);
        break;
      }
      case SUBSCRIPTION_ID:
        // Repeatable server → client; a client's PUBLISH carrying one is refused by the handler [MQTT-3.3.4-6].
        props.subscriptionIdentifier = r.varInt('subscription identifier');
        break;
      case USER_PROPERTY: {
        const name = r.string('user property name');
        addUserProperty((props.userProperties ??= Object.create(null) as UserProperties), name, r.string('user property value'));
        break;
      }
      default:
        throw malformed('MQTT-2.2.2.2', `property 0x${id.toString(16).padStart(2, '0')} is not a PUBLISH property`);
    }
  }
  return props;
}

/** Repeated names are allowed [MQTT-3.3.2-18]: they collect into an array, as mqtt-packet gives them. */
function addUserProperty(up: UserProperties, name: string, value: string): void {
  const had = up[name];
  if (had === undefined) up[name] = value;
  else if (Array.isArray(had)) had.push(value);
  else up[name] = [had, value];
}

function once(existing: unknown, what: string): void {
  if (existing !== undefined) throw protocolError('MQTT-2.2.2.2', `PUBLISH carries the ${what} more than once`);
}
