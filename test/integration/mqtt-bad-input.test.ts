/**
 * Bad input: each hostile or broken peer gets its reason code or a close, is
 * reported as a security event naming the spec clause, and a well-behaved
 * client on the same listener keeps being served throughout.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import type { IDisconnectPacket, IPubcompPacket } from 'mqtt-packet';
import { RawClient, client, startBed, type MqttTestBed } from './mqtt-support.js';

let bed: MqttTestBed;
let good: MqttClient;
let goodCount = 0;

beforeAll(async () => {
  bed = await startBed({ limits: { maxPacketBytes: 4096, connectTimeoutMs: 2000 } });
  good = await client(bed.port, { protocolVersion: 5, clientId: 'well-behaved' });
});
afterAll(async () => {
  await good.endAsync();
  await bed.close();
});

// After every hostile peer, the well-behaved client still gets its QoS 1 publish through.
afterEach(async () => {
  const before = bed.backend.requests.length;
  await good.publishAsync('good/still-served', `n${++goodCount}`, { qos: 1 });
  expect(bed.backend.requests.length).toBe(before + 1);
  expect(good.connected).toBe(true);
});

function securityEvents(clause?: string): Array<Record<string, unknown>> {
  return bed.gw.logs.filter((l) => l.event === 'security' && (clause === undefined || l.clause === clause));
}

async function expectDisconnect(raw: RawClient, code: number): Promise<void> {
  const d = (await raw.next('disconnect')) as IDisconnectPacket;
  expect(d.reasonCode).toBe(code);
  await raw.waitClosed();
}

describe('before CONNECT', () => {
  it('closes a socket sending random bytes', async () => {
    for (let i = 0; i < 20; i++) {
      const raw = await RawClient.open(bed.port, 5);
      raw.write(randomBytes(64 + i * 13));
      await raw.waitClosed();
    }
  });

  it('closes a socket whose first packet is not CONNECT [MQTT-3.1.0-1]', async () => {
    const raw = await RawClient.open(bed.port, 5);
    raw.send({ cmd: 'publish', topic: 'early', payload: Buffer.from('x'), qos: 0, dup: false, retain: false });
    await raw.waitClosed();
    expect(securityEvents('MQTT-3.1.0-1').length).toBeGreaterThan(0);
  });

  it('closes on a truncated CONNECT whose fields run past its length', async () => {
    const raw = await RawClient.open(bed.port, 5);
    // Remaining length 6, but the protocol name claims 4 bytes and the level/flags/keepalive are missing.
    raw.write(Buffer.from([0x10, 0x06, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54]));
    await raw.waitClosed();
    expect(securityEvents().some((e) => e.kind === 'malformed-packet')).toBe(true);
  });

  it('closes on a remaining length longer than four bytes [MQTT-1.5.5-1]', async () => {
    const raw = await RawClient.open(bed.port, 5);
    raw.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]));
    await raw.waitClosed();
    expect(securityEvents('MQTT-1.5.5-1').length).toBeGreaterThan(0);
  });
});

describe('after CONNECT', () => {
  it('answers random bytes with DISCONNECT 0x81 or a close', async () => {
    for (let i = 0; i < 10; i++) {
      const raw = await RawClient.connected(bed.port, 5);
      raw.write(Buffer.concat([Buffer.from([0x00, 0x05]), randomBytes(5), randomBytes(100)]));
      await raw.waitClosed();
    }
  });

  it('disconnects on a PUBLISH whose remaining length lies about its topic length (0x81)', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    // Remaining length 4 but the topic length field says 200.
    raw.write(Buffer.from([0x30, 0x04, 0x00, 0xc8, 0x61, 0x62]));
    await expectDisconnect(raw, 0x81);
  });

  it('closes a peer whose remaining length promises more than it sends, at the keepalive', async () => {
    const raw = await RawClient.open(bed.port, 5);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'liar', clean: true, keepalive: 1 });
    await raw.next('connack');
    raw.write(Buffer.from([0x30, 0x40, 0x00, 0x01, 0x61])); // announces 64 bytes, sends 3
    await expectDisconnect(raw, 0x8d);
  });

  it('disconnects an oversize packet with 0x95 before buffering it', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    raw.write(Buffer.from([0x30, 0x80, 0x80, 0x04])); // 65536 bytes announced
    await expectDisconnect(raw, 0x95);
    expect(securityEvents().some((e) => e.kind === 'oversize')).toBe(true);
  });

  it('closes a v3.1.1 connection on an oversize packet', async () => {
    const raw = await RawClient.connected(bed.port, 4);
    raw.send({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(5000), qos: 0, dup: false, retain: false });
    await raw.waitClosed();
    expect(raw.packets.filter((p) => p.cmd === 'disconnect')).toEqual([]);
  });

  it('disconnects a second CONNECT with 0x82 [MQTT-3.1.0-2]', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'again', clean: true, keepalive: 60 });
    await expectDisconnect(raw, 0x82);
    expect(securityEvents('MQTT-3.1.0-2').length).toBeGreaterThan(0);
  });

  it('dispatches nothing that follows a violation in the same read', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    const stats = (): number => bed.gw.gateway.listener('mqtt')!.stats().messagesIn;
    const before = stats();
    const gen = (p: Parameters<RawClient['send']>[0]): Buffer => mqttPacket.generate(p, { protocolVersion: 5 });
    raw.write(
      Buffer.concat([
        gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'again', clean: true, keepalive: 60 }),
        gen({ cmd: 'publish', topic: 'after/violation', payload: Buffer.from('x'), qos: 0, dup: false, retain: false }),
      ]),
    );
    await expectDisconnect(raw, 0x82);
    expect(stats()).toBe(before);
  });

  it('answers PUBREL for an unknown packet id with PUBCOMP 0x92 (v5) and PUBCOMP (v3.1.1)', async () => {
    const v5 = await RawClient.connected(bed.port, 5);
    v5.send({ cmd: 'pubrel', messageId: 999 });
    const comp = (await v5.next('pubcomp')) as IPubcompPacket;
    expect(comp.messageId).toBe(999);
    expect(comp.reasonCode).toBe(0x92);
    v5.destroy();
    const v3 = await RawClient.connected(bed.port, 4);
    v3.send({ cmd: 'pubrel', messageId: 998 });
    expect((await v3.next('pubcomp')).messageId).toBe(998);
    v3.destroy();
  });

  it.each(['a/+/b', 'a/#', '#'])('disconnects a PUBLISH to wildcard topic %s with 0x90 [MQTT-3.3.2-2]', async (topic) => {
    const raw = await RawClient.connected(bed.port, 5);
    raw.send({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1, messageId: 1, dup: false, retain: false });
    await expectDisconnect(raw, 0x90);
    expect(securityEvents('MQTT-3.3.2-2').length).toBeGreaterThan(0);
  });

  it('closes a v3.1.1 connection publishing to a wildcard topic', async () => {
    const raw = await RawClient.connected(bed.port, 4);
    raw.send({ cmd: 'publish', topic: 'x/#', payload: Buffer.from('x'), qos: 0, dup: false, retain: false });
    await raw.waitClosed();
  });

  it('closes on QoS 3 and on bad fixed-header flags [MQTT-2.2.2-2]', async () => {
    const q3 = await RawClient.connected(bed.port, 5);
    q3.write(Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]));
    await expectDisconnect(q3, 0x81);
    const flags = await RawClient.connected(bed.port, 5);
    flags.write(Buffer.from([0x83, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00])); // SUBSCRIBE must have flags 0010
    await expectDisconnect(flags, 0x81);
  });

  it('disconnects a QoS 0 PUBLISH with DUP set [MQTT-3.3.1-2] and a QoS 1 PUBLISH with packet id 0 [MQTT-2.3.1-1] with 0x81', async () => {
    const dup = await RawClient.connected(bed.port, 5);
    dup.write(Buffer.from([0x38, 0x04, 0x00, 0x01, 0x61, 0x00]));
    await expectDisconnect(dup, 0x81);
    const zero = await RawClient.connected(bed.port, 5);
    zero.write(Buffer.from([0x32, 0x06, 0x00, 0x01, 0x61, 0x00, 0x00, 0x00]));
    await expectDisconnect(zero, 0x81);
  });

  it('disconnects a topic name that is not well-formed UTF-8 with 0x81 [MQTT-1.5.4-1]', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    raw.write(Buffer.from([0x30, 0x05, 0x00, 0x02, 0xc3, 0x28, 0x00]));
    await expectDisconnect(raw, 0x81);
  });

  it('disconnects a PUBLISH carrying a property PUBLISH does not have with 0x81, and one given twice with 0x82', async () => {
    const foreign = await RawClient.connected(bed.port, 5);
    // Property 0x11 (Session Expiry Interval) belongs to CONNECT and DISCONNECT (MQTT 5.0 §2.2.2.2).
    foreign.write(Buffer.from([0x30, 0x09, 0x00, 0x01, 0x61, 0x05, 0x11, 0x00, 0x00, 0x00, 0x01]));
    await expectDisconnect(foreign, 0x81);
    expect(securityEvents('MQTT-2.2.2.2').length).toBeGreaterThan(0);
    const twice = await RawClient.connected(bed.port, 5);
    // Content Type twice.
    twice.write(Buffer.from([0x30, 0x0c, 0x00, 0x01, 0x61, 0x08, 0x03, 0x00, 0x01, 0x61, 0x03, 0x00, 0x01, 0x62]));
    await expectDisconnect(twice, 0x82);
  });

  it('disconnects server-to-client packets sent by a client with 0x82', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    raw.write(Buffer.from([0xd0, 0x00])); // PINGRESP
    await expectDisconnect(raw, 0x82);
  });
});
