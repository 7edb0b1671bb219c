/**
 * DISCONNECT: only a well-formed DISCONNECT with reason 0x00 discards the
 * Will [MQTT-3.1.2-8] (MQTT 5.0 §3.1.2.5, §4.13.1); a malformed one closes
 * the connection as a violation, reported to the guard, and the Will is
 * published. A Session Expiry Interval in DISCONNECT is a Protocol Error only
 * when CONNECT's was 0 (§3.14.2.2.2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IConnectPacket, IPublishPacket } from 'mqtt-packet';
import type { MqttTestBed } from './mqtt-support.js';
import { RawClient, connectWith, expectRefused, hex, securityEvents, startBroker, untilConnections } from './mqtt-conformance-support.js';

let bed: MqttTestBed;
let watcher: RawClient;
let n = 0;

beforeAll(async () => {
  bed = await startBroker();
  watcher = await connectWith(bed.port, 5);
  watcher.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'will/#', qos: 0 }] });
  await watcher.next('suback');
});
afterAll(async () => {
  watcher.destroy();
  await bed.close();
});

/** A client with a Will on will/<name>. */
async function withWill(v: 4 | 5, extra: Partial<IConnectPacket> = {}): Promise<{ raw: RawClient; topic: string }> {
  const topic = `will/w${++n}`;
  const raw = await connectWith(bed.port, v, { will: { topic, payload: Buffer.from('gone'), qos: 0, retain: false }, ...extra });
  return { raw, topic };
}

/** The topic of the next message the watcher sees, once the closed client's connection is gone. */
async function nextWillTopic(): Promise<string> {
  await untilConnections(bed, 1);
  const marker = await RawClient.connected(bed.port, 5);
  marker.send({ cmd: 'publish', topic: 'will/marker', payload: Buffer.from('m'), qos: 0, dup: false, retain: false });
  const p = (await watcher.next('publish')) as IPublishPacket;
  if (p.topic !== 'will/marker') await watcher.next('publish');
  marker.destroy();
  return p.topic;
}

describe('a malformed DISCONNECT publishes the Will and is a security event [MQTT-3.1.2-8]', () => {
  const cases: Array<[string, 4 | 5, string, number, string]> = [
    ['v3.1.1 DISCONNECT with a body', 4, 'e0 01 00', 0x81, 'MQTT-4.8.0-1'],
    ['v3.1.1 DISCONNECT with reserved flags', 4, 'e1 00', 0x81, 'MQTT-2.2.2-2'],
    ['v5 DISCONNECT with reserved flags', 5, 'e2 00', 0x81, 'MQTT-2.1.3-1'],
    ['v5 DISCONNECT with a reason code a client may not send (0x8e)', 5, 'e0 01 8e', 0x81, 'MQTT-3.14.2-1'],
    ['v5 DISCONNECT whose property length runs past the packet', 5, 'e0 02 00 05', 0x81, 'MQTT-4.13.1-1'],
    ['v5 DISCONNECT with a property it does not carry (Payload Format Indicator)', 5, 'e0 04 00 02 01 01', 0x81, 'MQTT-2.2.2.2'],
    ['v5 DISCONNECT with the Reason String twice', 5, 'e0 0a 00 08 1f 00 01 61 1f 00 01 62', 0x82, 'MQTT-2.2.2.2'],
    ['v5 DISCONNECT with a Reason String cut short', 5, 'e0 05 00 03 1f 00 05', 0x81, 'MQTT-4.13.1-1'],
    ['v5 DISCONNECT with bytes after its properties', 5, 'e0 04 00 00 00 00', 0x81, 'MQTT-4.13.1-1'],
    ['v5 DISCONNECT with a non-minimal property length', 5, 'e0 03 00 80 00', 0x81, 'MQTT-1.5.5-1'],
  ];
  it.each(cases)('%s', async (_name, v, bytes, code, clause) => {
    const { raw, topic } = await withWill(v);
    raw.write(hex(bytes));
    await expectRefused(bed, raw, code, clause);
    expect(await nextWillTopic()).toBe(topic);
  });
});

describe('a well-formed DISCONNECT', () => {
  it.each([4, 5] as const)('v%i: 0x00 discards the Will', async (v) => {
    const { raw } = await withWill(v);
    const events = securityEvents(bed).length;
    raw.write(hex('e0 00'));
    await raw.waitClosed();
    expect(await nextWillTopic()).toBe('will/marker');
    expect(securityEvents(bed).length).toBe(events);
  });

  it('v5: 0x00 with properties (Reason String, User Property) discards the Will', async () => {
    const { raw } = await withWill(5);
    raw.write(hex('e0 0c 00 0a 1f 00 01 61 26 00 01 6b 00 00'));
    await raw.waitClosed();
    expect(await nextWillTopic()).toBe('will/marker');
  });

  it('v5: 0x04 keeps the Will', async () => {
    const { raw, topic } = await withWill(5);
    raw.write(hex('e0 01 04'));
    await raw.waitClosed();
    expect(await nextWillTopic()).toBe(topic);
  });

  it('v5: a Session Expiry Interval is taken when CONNECT asked for a non-zero one (§3.14.2.2.2)', async () => {
    const { raw } = await withWill(5, { properties: { sessionExpiryInterval: 60 } });
    const events = securityEvents(bed).length;
    raw.write(hex('e0 07 00 05 11 00 00 00 0a'));
    await raw.waitClosed();
    expect(raw.packets.filter((p) => p.cmd === 'disconnect')).toEqual([]);
    expect(await nextWillTopic()).toBe('will/marker');
    expect(securityEvents(bed).length).toBe(events);
  });

  it('v5: a Session Expiry Interval where CONNECT had 0 is a Protocol Error (0x82) and the Will goes out (§3.14.2.2.2)', async () => {
    const { raw, topic } = await withWill(5);
    raw.write(hex('e0 07 00 05 11 00 00 00 0a'));
    await expectRefused(bed, raw, 0x82, 'MQTT-3.14.2.2.2');
    expect(await nextWillTopic()).toBe(topic);
  });
});
