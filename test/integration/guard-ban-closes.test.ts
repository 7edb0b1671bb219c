/**
 * A new ban ends the connections it covers, over real sockets: an address
 * that holds MQTT connections open with a packet dripping in (the slow-drip
 * abuser of bench/abuse) and then gets banned by scoring loses them at once,
 * not after the slow-drip window; a connection from another address stays.
 * A client-id ban through the guard ends that client's MQTT connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect as netConnect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { until } from '../helpers/run.js';

let backend: TestBackend;
let gw: TestGateway;

beforeAll(async () => {
  backend = await TestBackend.start();
  gw = await startGateway({
    listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
    pools: [{ name: 'be', endpoints: [{ url: backend.url }] }],
    routes: [{ match: { address: '#' }, pool: 'be', request: { method: 'POST', path: '/m/{address}' } }],
    // One malformed packet (weight 10) bans its address; the slow-drip window (60 s) is far longer than the test.
    guard: { exempt: [], scoring: { threshold: 10 }, slowPeers: { windowSeconds: 60 } },
  });
});

afterAll(async () => {
  await gw?.stop();
  await backend?.close();
});

const CONNECT = (clientId: string) =>
  mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId, keepalive: 0 }, { protocolVersion: 5 });
// A PUBLISH announcing 1,000 bytes, of which only the topic length arrives: a packet in progress.
const DRIP_HEAD = Buffer.from([0x30, 0xe8, 0x07, 0x00]);
// A PUBLISH whose topic length (0x7fff) runs past the packet's end (MQTT 5 §1.5.4): malformed.
const MALFORMED = Buffer.from([0x30, 0x06, 0x7f, 0xff, 0x61, 0x62, 0x00, 0x00]);

interface Held {
  socket: Socket;
  closed: boolean;
}

/** An MQTT 5 connection from `localAddress` that got its CONNACK and then writes `after`. */
async function hold(localAddress: string, clientId: string, after?: Buffer): Promise<Held> {
  const socket = netConnect({ port: gw.port('mqtt'), host: '127.0.0.1', localAddress });
  const held: Held = { socket, closed: false };
  socket.on('error', () => undefined);
  socket.on('close', () => (held.closed = true));
  await new Promise((r) => socket.once('connect', r));
  socket.write(CONNECT(clientId));
  await new Promise<void>((resolve) => socket.once('data', (d: Buffer) => (d[0] === 0x20 ? resolve() : undefined)));
  if (after) socket.write(after);
  return held;
}

describe('a new ban closes the connections it covers', () => {
  it('a scoring ban of an address ends its open connections, not those of another address', async () => {
    const dripping = await Promise.all([1, 2, 3].map((i) => hold('127.0.0.9', `drip-${i}`, DRIP_HEAD)));
    const bystander = await hold('127.0.0.1', 'bystander');
    // One more connection from the same address sends a malformed packet: scoring bans 127.0.0.9.
    await hold('127.0.0.9', 'bad', MALFORMED);
    await until(() => gw.logs.some((l) => l.event === 'ban' && (l.ban as { value?: string } | undefined)?.value === '127.0.0.9'));
    await until(() => dripping.every((h) => h.closed), 5000);
    expect(bystander.closed).toBe(false);
    bystander.socket.destroy();
  });

  it('a client-id ban ends that client’s connection', async () => {
    const target = await hold('127.0.0.1', 'kicked');
    const other = await hold('127.0.0.1', 'kept');
    gw.gateway.guard.ban({ kind: 'clientId', value: 'kicked', reason: 'test' }, 'api');
    await until(() => target.closed, 5000);
    expect(other.closed).toBe(false);
    other.socket.destroy();
  });
});
