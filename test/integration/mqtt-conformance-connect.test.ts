/**
 * CONNECT is checked from its raw bytes (src/listeners/mqtt/validate-connect.ts):
 * strings are well-formed UTF-8 without U+0000, the connect flags are
 * consistent, v5 CONNECT and Will properties follow the property table, and
 * nothing follows the last field. A v5 client is refused with CONNACK
 * 0x81/0x82, a v3.1.1 client is closed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IConnackPacket, IPublishPacket } from 'mqtt-packet';
import type { MqttTestBed } from './mqtt-support.js';
import { RawClient, connectWith, expectRefused, hex, startBroker, untilConnections } from './mqtt-conformance-support.js';

let bed: MqttTestBed;
beforeAll(async () => {
  bed = await startBroker();
});
afterAll(async () => {
  await bed.close();
});

/** A length-prefixed field from hex bytes. */
function field(bytes: string): string {
  const b = hex(bytes);
  return `${(b.length >> 8).toString(16).padStart(2, '0')}${(b.length & 0xff).toString(16).padStart(2, '0')}${b.toString('hex')}`;
}
const text = (s: string): string => field(Buffer.from(s).toString('hex'));

interface ConnectParts {
  readonly level?: number;
  readonly name?: string;
  readonly flags: number;
  /** v5 property block, hex, length byte included (default: empty). */
  readonly props?: string;
  readonly clientId?: string;
  readonly willProps?: string;
  readonly willTopic?: string;
  readonly user?: string;
  readonly password?: string;
  readonly trailing?: string;
}

/** A CONNECT packet from its parts (each string field already length-prefixed). */
function connectPacket(p: ConnectParts): Buffer {
  const level = p.level ?? 5;
  const body = hex(
    [
      text(p.name ?? 'MQTT'),
      level.toString(16).padStart(2, '0'),
      p.flags.toString(16).padStart(2, '0'),
      '003c',
      level === 5 ? (p.props ?? '00') : '',
      p.clientId ?? text('cc'),
      p.willTopic !== undefined ? `${level === 5 ? (p.willProps ?? '00') : ''}${p.willTopic}${field('676f6e65')}` : '',
      p.user ?? '',
      p.password ?? '',
      p.trailing ?? '',
    ].join(''),
  );
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

const CLEAN = 0x02;
const WILL = 0x04;
const USER = 0x80;
const PASSWORD = 0x40;

async function refused(v: 4 | 5, parts: ConnectParts, code: number, clause: string): Promise<void> {
  const raw = await RawClient.open(bed.port, v);
  raw.write(connectPacket({ level: v, ...parts }));
  await expectRefused(bed, raw, code, clause, true);
}

const utf8 = (v: 4 | 5, n: 1 | 2): string => `MQTT-1.5.${v === 5 ? 4 : 3}-${n}`;

describe.each([4, 5] as const)('v%i CONNECT', (v) => {
  it('a client id with U+0000 is malformed [MQTT-1.5.4-2] [MQTT-1.5.3-2]', () => refused(v, { flags: CLEAN, clientId: field('610062') }, 0x81, utf8(v, 2)));

  it('a client id with a lone surrogate is malformed [MQTT-1.5.4-1] [MQTT-1.5.3-1]', () =>
    refused(v, { flags: CLEAN, clientId: field('61eda080') }, 0x81, utf8(v, 1)));

  it('a user name with ill-formed UTF-8 or U+0000 is malformed [MQTT-1.5.4-1/2] [MQTT-1.5.3-1/2]', async () => {
    await refused(v, { flags: CLEAN | USER, user: field('75c328') }, 0x81, utf8(v, 1));
    await refused(v, { flags: CLEAN | USER, user: field('7500') }, 0x81, utf8(v, 2));
  });

  it('a will topic with a lone surrogate is malformed and nothing is published [MQTT-1.5.4-1] [MQTT-1.5.3-1]', async () => {
    const watcher = await connectWith(bed.port, 5);
    watcher.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'wt/#', qos: 0 }] });
    await watcher.next('suback');
    await refused(v, { flags: CLEAN | WILL, willTopic: field('77742fedb080') }, 0x81, utf8(v, 1));
    await untilConnections(bed, 1);
    const marker = await RawClient.connected(bed.port, 5);
    marker.send({ cmd: 'publish', topic: 'wt/marker', payload: Buffer.from('m'), qos: 0, dup: false, retain: false });
    expect(((await watcher.next('publish')) as IPublishPacket).topic).toBe('wt/marker');
    marker.destroy();
    watcher.destroy();
  });

  it('Will QoS 3 is malformed [MQTT-3.1.2-12] [MQTT-3.1.2-14]', () =>
    refused(v, { flags: CLEAN | WILL | 0x18, willTopic: text('w/q3') }, 0x81, v === 5 ? 'MQTT-3.1.2-12' : 'MQTT-3.1.2-14'));

  it('Will QoS without the Will flag is malformed [MQTT-3.1.2-11] [MQTT-3.1.2-13]', () =>
    refused(v, { flags: CLEAN | 0x08 }, 0x81, v === 5 ? 'MQTT-3.1.2-11' : 'MQTT-3.1.2-13'));

  it('Will Retain without the Will flag is malformed [MQTT-3.1.2-13] [MQTT-3.1.2-15]', () =>
    refused(v, { flags: CLEAN | 0x20 }, 0x81, v === 5 ? 'MQTT-3.1.2-13' : 'MQTT-3.1.2-15'));

  it('the reserved connect flag is malformed [MQTT-3.1.2-3]', () => refused(v, { flags: CLEAN | 0x01 }, 0x81, 'MQTT-3.1.2-3'));

  it('bytes after the last field are malformed [MQTT-3.1.3-1] [MQTT-3.1.2-16] [MQTT-3.1.2-18]', async () => {
    await refused(v, { flags: CLEAN, trailing: '0001' }, 0x81, 'MQTT-3.1.3-1');
    // A user name and password present although their flags are 0.
    await refused(v, { flags: CLEAN, trailing: `${text('u')}${text('p')}` }, 0x81, 'MQTT-3.1.3-1');
  });

  it('a user name flag whose field is missing is malformed [MQTT-3.1.2-17] [MQTT-3.1.2-19]', () =>
    refused(v, { flags: CLEAN | USER }, 0x81, v === 5 ? 'MQTT-4.13.1-1' : 'MQTT-4.8.0-1'));

  it('a protocol name other than MQTT closes the connection [MQTT-3.1.2-1]', async () => {
    const raw = await RawClient.open(bed.port, v);
    raw.write(connectPacket({ level: v, name: 'MQTX', flags: CLEAN }));
    await raw.waitClosed();
    expect(raw.packets).toEqual([]);
  });
});

describe('protocol levels and version differences', () => {
  it('v3.1.1: a password without a user name closes the connection [MQTT-3.1.2-22]', () =>
    refused(4, { flags: CLEAN | PASSWORD, password: field('7077') }, 0x81, 'MQTT-3.1.2-22'));

  it('v5: a password without a user name is allowed (§3.1.2.9)', async () => {
    const raw = await RawClient.open(bed.port, 5);
    raw.write(connectPacket({ flags: CLEAN | PASSWORD, password: field('7077') }));
    expect(((await raw.next('connack')) as IConnackPacket).reasonCode).toBe(0);
    raw.destroy();
  });

  it.each([3, 6, 0x84])('level %i gets CONNACK 0x01 in the 3.1.1 format [MQTT-3.1.2-2]', async (level) => {
    const raw = await RawClient.open(bed.port, 4);
    raw.write(connectPacket({ level, name: level === 3 ? 'MQIsdp' : 'MQTT', flags: CLEAN }));
    expect(((await raw.next('connack')) as IConnackPacket).returnCode).toBe(1);
    await raw.waitClosed();
  });
});

describe('v5 CONNECT properties (§2.2.2.2, §3.1.2.11)', () => {
  it('a property CONNECT does not carry is malformed (Topic Alias)', () => refused(5, { flags: CLEAN, props: '03 23 00 01' }, 0x81, 'MQTT-2.2.2.2'));

  it('the Session Expiry Interval twice is a protocol error', () =>
    refused(5, { flags: CLEAN, props: '0a 11 00 00 00 01 11 00 00 00 02' }, 0x82, 'MQTT-2.2.2.2'));

  it('Receive Maximum 0 and Maximum Packet Size 0 are protocol errors', async () => {
    await refused(5, { flags: CLEAN, props: '03 21 00 00' }, 0x82, 'MQTT-3.1.2.11.3');
    await refused(5, { flags: CLEAN, props: '05 27 00 00 00 00' }, 0x82, 'MQTT-3.1.2.11.4');
  });

  it('Request Problem Information 2 is a protocol error', () => refused(5, { flags: CLEAN, props: '02 17 02' }, 0x82, 'MQTT-3.1.2.11.7'));

  it('Authentication Data without an Authentication Method is a protocol error (§3.1.2.11.10)', () =>
    refused(5, { flags: CLEAN, props: '05 16 00 02 61 62' }, 0x82, 'MQTT-3.1.2.11.10'));

  it('a property cut short is malformed', () => refused(5, { flags: CLEAN, props: '02 11 00' }, 0x81, 'MQTT-4.13.1-1'));

  it('a Will property the Will does not carry is malformed (Session Expiry Interval)', () =>
    refused(5, { flags: CLEAN | WILL, willProps: '05 11 00 00 00 01', willTopic: text('w/p') }, 0x81, 'MQTT-2.2.2.2'));

  it('a Will Response Topic with a wildcard is a protocol error [MQTT-3.3.2-14]', () =>
    refused(5, { flags: CLEAN | WILL, willProps: `06 08 ${text('r/#')}`, willTopic: text('w/r') }, 0x82, 'MQTT-3.3.2-14'));
});
