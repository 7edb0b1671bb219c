/**
 * MQTT 5 properties (MQTT 5.0 §2.2.2.2) from one table: which packets may
 * carry each property, its data type, and whether it may repeat. A property
 * a packet does not carry, or one whose value is cut short, is a Malformed
 * Packet (§2.2.2.2); one given twice that may appear once, or a value the
 * property does not allow (Receive Maximum 0, ...), is a Protocol Error (the
 * property's own clause in §3).
 */
import { Cursor } from './cursor.js';
import { malformed, protocolError } from './violation.js';

/** Packet type numbers (MQTT 5.0 §2.1.2); bit 0 stands for the Will Properties of CONNECT (§3.1.3.2). */
export const PT = {
  WILL: 0,
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
  AUTH: 15,
} as const;

export const PACKET_NAMES: readonly string[] = [
  'Will',
  'CONNECT',
  'CONNACK',
  'PUBLISH',
  'PUBACK',
  'PUBREC',
  'PUBREL',
  'PUBCOMP',
  'SUBSCRIBE',
  'SUBACK',
  'UNSUBSCRIBE',
  'UNSUBACK',
  'PINGREQ',
  'PINGRESP',
  'DISCONNECT',
  'AUTH',
];

type DataType = 'byte' | 'u16' | 'u32' | 'varint' | 'string' | 'binary' | 'pair';

interface PropertySpec {
  readonly name: string;
  readonly type: DataType;
  /** Bit mask of the packet types (PT) that carry it. */
  readonly packets: number;
  readonly repeats?: true;
  /** Why a numeric value is not allowed, citing the clause; undefined when it is. */
  readonly check?: (value: number) => readonly [clause: string, problem: string] | undefined;
}

const bits = (...types: number[]): number => types.reduce((m, t) => m | (1 << t), 0);
const ALL = 0xffff;
const oneOrZero = (clause: string) => (v: number) => (v > 1 ? ([clause, `value ${v} is neither 0 nor 1`] as const) : undefined);
const nonZero = (clause: string) => (v: number) => (v === 0 ? ([clause, 'value 0'] as const) : undefined);

/** MQTT 5.0 Table 2-4, by property identifier. */
export const PROPERTIES: ReadonlyMap<number, PropertySpec> = new Map<number, PropertySpec>([
  [0x01, { name: 'Payload Format Indicator', type: 'byte', packets: bits(PT.PUBLISH, PT.WILL), check: oneOrZero('MQTT-3.3.2.3.2') }],
  [0x02, { name: 'Message Expiry Interval', type: 'u32', packets: bits(PT.PUBLISH, PT.WILL) }],
  [0x03, { name: 'Content Type', type: 'string', packets: bits(PT.PUBLISH, PT.WILL) }],
  [0x08, { name: 'Response Topic', type: 'string', packets: bits(PT.PUBLISH, PT.WILL) }],
  [0x09, { name: 'Correlation Data', type: 'binary', packets: bits(PT.PUBLISH, PT.WILL) }],
  // Repeatable in a server's PUBLISH; a SUBSCRIBE carries one (§3.8.2.1.2), and 0 is a Protocol Error.
  [0x0b, { name: 'Subscription Identifier', type: 'varint', packets: bits(PT.PUBLISH, PT.SUBSCRIBE), check: nonZero('MQTT-3.8.2.1.2') }],
  [0x11, { name: 'Session Expiry Interval', type: 'u32', packets: bits(PT.CONNECT, PT.CONNACK, PT.DISCONNECT) }],
  [0x12, { name: 'Assigned Client Identifier', type: 'string', packets: bits(PT.CONNACK) }],
  [0x13, { name: 'Server Keep Alive', type: 'u16', packets: bits(PT.CONNACK) }],
  [0x15, { name: 'Authentication Method', type: 'string', packets: bits(PT.CONNECT, PT.CONNACK, PT.AUTH) }],
  [0x16, { name: 'Authentication Data', type: 'binary', packets: bits(PT.CONNECT, PT.CONNACK, PT.AUTH) }],
  [0x17, { name: 'Request Problem Information', type: 'byte', packets: bits(PT.CONNECT), check: oneOrZero('MQTT-3.1.2.11.7') }],
  [0x18, { name: 'Will Delay Interval', type: 'u32', packets: bits(PT.WILL) }],
  [0x19, { name: 'Request Response Information', type: 'byte', packets: bits(PT.CONNECT), check: oneOrZero('MQTT-3.1.2.11.6') }],
  [0x1a, { name: 'Response Information', type: 'string', packets: bits(PT.CONNACK) }],
  [0x1c, { name: 'Server Reference', type: 'string', packets: bits(PT.CONNACK, PT.DISCONNECT) }],
  [
    0x1f,
    {
      name: 'Reason String',
      type: 'string',
      packets: bits(PT.CONNACK, PT.PUBACK, PT.PUBREC, PT.PUBREL, PT.PUBCOMP, PT.SUBACK, PT.UNSUBACK, PT.DISCONNECT, PT.AUTH),
    },
  ],
  [0x21, { name: 'Receive Maximum', type: 'u16', packets: bits(PT.CONNECT, PT.CONNACK), check: nonZero('MQTT-3.1.2.11.3') }],
  [0x22, { name: 'Topic Alias Maximum', type: 'u16', packets: bits(PT.CONNECT, PT.CONNACK) }],
  [0x23, { name: 'Topic Alias', type: 'u16', packets: bits(PT.PUBLISH) }],
  [0x24, { name: 'Maximum QoS', type: 'byte', packets: bits(PT.CONNACK) }],
  [0x25, { name: 'Retain Available', type: 'byte', packets: bits(PT.CONNACK) }],
  [0x26, { name: 'User Property', type: 'pair', packets: ALL, repeats: true }],
  [0x27, { name: 'Maximum Packet Size', type: 'u32', packets: bits(PT.CONNECT, PT.CONNACK), check: nonZero('MQTT-3.1.2.11.4') }],
  [0x28, { name: 'Wildcard Subscription Available', type: 'byte', packets: bits(PT.CONNACK) }],
  [0x29, { name: 'Subscription Identifiers Available', type: 'byte', packets: bits(PT.CONNACK) }],
  [0x2a, { name: 'Shared Subscription Available', type: 'byte', packets: bits(PT.CONNACK) }],
]);

/** What a property block held, for the few rules that depend on it. */
export interface PropertiesSeen {
  /** Identifiers present (for `has`). */
  readonly ids: ReadonlySet<number>;
  /** The Response Topic's bytes (start, end) when present: PUBLISH and Will check it for wildcards. */
  readonly responseTopic?: readonly [number, number];
}

const NONE: PropertiesSeen = { ids: new Set() };

/**
 * Reads and checks a property block (its Variable Byte Integer length, then
 * the properties) of packet type `type` at the cursor; leaves the cursor after it.
 */
export function checkProperties(r: Cursor, type: number): PropertiesSeen {
  const length = r.varInt('property length');
  if (length === 0) return NONE;
  const start = r.take(length, 'properties');
  const end = r.pos;
  const p = new Cursor(r.frame, start, end, r.packet, true);
  const ids = new Set<number>();
  let responseTopic: readonly [number, number] | undefined;
  const where = PACKET_NAMES[type]!;
  while (p.pos < end) {
    const id = p.u8('property identifier');
    const spec = PROPERTIES.get(id);
    if (spec === undefined || (spec.packets & (1 << type)) === 0) {
      throw malformed('MQTT-2.2.2.2', `property 0x${id.toString(16).padStart(2, '0')}${spec ? ` (${spec.name})` : ''} is not a ${where} property`);
    }
    if (ids.has(id) && spec.repeats !== true) throw protocolError('MQTT-2.2.2.2', `${where} carries the ${spec.name} more than once`);
    ids.add(id);
    let value = -1;
    switch (spec.type) {
      case 'byte':
        value = p.u8(spec.name);
        break;
      case 'u16':
        value = p.u16(spec.name);
        break;
      case 'u32':
        value = p.u32(spec.name);
        break;
      case 'varint':
        value = p.varInt(spec.name);
        break;
      case 'string': {
        const at = p.stringBytes(spec.name);
        if (id === 0x08) responseTopic = [at, p.pos];
        break;
      }
      case 'binary':
        p.binary(spec.name);
        break;
      case 'pair':
        p.stringBytes(`${spec.name} name`);
        p.stringBytes(`${spec.name} value`);
        break;
    }
    const bad = value >= 0 ? spec.check?.(value) : undefined;
    if (bad !== undefined) throw protocolError(bad[0], `${where} ${spec.name}: ${bad[1]}`);
  }
  return responseTopic ? { ids, responseTopic } : { ids };
}
