/**
 * Byte-level conformance tests: a gateway in broker mode (`target: devices`
 * on `#`), raw clients writing hex bytes, and the checks every rule shares —
 * a v5 client gets DISCONNECT (or CONNACK) with the reason code, a v3.1.1
 * client is just closed, and the violation is a security event naming its
 * clause.
 */
import { expect } from 'vitest';
import type { IConnackPacket, IConnectPacket, IDisconnectPacket } from 'mqtt-packet';
import { RawClient, startBed, type MqttTestBed } from './mqtt-support.js';

export { RawClient };

/** Hex text (spaces allowed) → bytes. */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

export function startBroker(limits: Record<string, unknown> = {}): Promise<MqttTestBed> {
  return startBed({ routes: [{ match: { address: '#' }, target: 'devices' }], limits: { connectTimeoutMs: 5000, ...limits } });
}

export function securityEvents(bed: MqttTestBed, clause?: string): Array<Record<string, unknown>> {
  return bed.gw.logs.filter((l) => l.event === 'security' && (clause === undefined || l.clause === clause));
}

/**
 * Expects the connection to be closed for a violation: v5 after DISCONNECT
 * (or CONNACK before the session is up) with `code`; v3.1.1 with nothing
 * sent. When `clause` is given, a security event names it.
 */
export async function expectRefused(bed: MqttTestBed, raw: RawClient, code: number, clause?: string, connack = false): Promise<void> {
  if (raw.version === 5) {
    const p = (await raw.next(connack ? 'connack' : 'disconnect')) as IDisconnectPacket | IConnackPacket;
    expect(p.reasonCode).toBe(code);
  }
  await raw.waitClosed();
  if (raw.version === 4) expect(raw.packets.map((p) => p.cmd)).toEqual([]);
  if (clause !== undefined) expect(securityEvents(bed, clause).length).toBeGreaterThan(0);
}

/** Expects the connection to stay open and answer a PINGREQ, with nothing else sent first. */
export async function expectServed(raw: RawClient): Promise<void> {
  raw.write(hex('c0 00'));
  await raw.next('pingresp');
  expect(raw.packets.map((p) => p.cmd)).toEqual([]);
}

/** Opens a raw connection and completes CONNECT with extra fields (will, properties, ...). */
export async function connectWith(port: number, version: 4 | 5, extra: Partial<IConnectPacket> = {}): Promise<RawClient> {
  const raw = await RawClient.open(port, version);
  raw.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: version,
    clientId: `c-${Math.random().toString(36).slice(2)}`,
    clean: true,
    keepalive: 60,
    ...extra,
  });
  const ack = (await raw.next('connack')) as IConnackPacket;
  expect(ack.reasonCode ?? ack.returnCode).toBe(0);
  return raw;
}

/** Resolves once the listener has no more than `n` connections (a closed connection's Will is out by then). */
export async function untilConnections(bed: MqttTestBed, n: number): Promise<void> {
  const listener = bed.gw.gateway.listener('mqtt')!;
  for (let i = 0; i < 500 && listener.stats().connections > n; i++) await new Promise((r) => setTimeout(r, 10));
  expect(listener.stats().connections).toBeLessThanOrEqual(n);
}

/** A connected raw client that has written `bytes` (hex) after CONNACK. */
export async function sends(bed: MqttTestBed, v: 4 | 5, bytes: string): Promise<RawClient> {
  const raw = await RawClient.connected(bed.port, v);
  raw.write(hex(bytes));
  return raw;
}
