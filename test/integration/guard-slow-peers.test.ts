/**
 * guard.slowPeers over real sockets: a packet dripping in (MQTT PUBLISH,
 * AMQP frame, HTTP header section) is closed as a slow-client event, an
 * idle connection with no packet in progress is not, and a client that
 * stops reading its replies is closed once its unread output passes the cap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect as netConnect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { until } from '../helpers/run.js';

let backend: TestBackend;
let gw: TestGateway;
const REPLY = Buffer.alloc(60_000, 'r');

beforeAll(async () => {
  backend = await TestBackend.start(() => ({ status: 200, body: REPLY, headers: { 'content-type': 'application/octet-stream' } }));
  gw = await startGateway({
    listeners: [
      { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
      { name: 'amqp', protocol: 'amqp', host: '127.0.0.1', port: 0 },
      { name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 },
    ],
    pools: [{ name: 'be', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 }, outlierDetection: { enabled: false } }],
    routes: [{ match: { address: '#' }, pool: 'be', request: { method: 'POST', path: '/m/{address}', reply: true } }],
    guard: { exempt: [], scoring: { enabled: false }, slowPeers: { windowSeconds: 0.4, minBytesPerSecond: 50, maxOutboundBytes: 1_000_000 } },
  });
});

afterAll(async () => {
  await gw?.stop();
  await backend?.close();
});

/** A raw connection that writes `first`, then one byte of `drip` every 100 ms; resolves with the ms until the server closed it. */
function drip(port: number, first: Buffer, drip: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const s: Socket = netConnect(port, '127.0.0.1');
    const started = Date.now();
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    s.on('connect', () => {
      s.write(first);
      timer = setInterval(() => {
        if (i < drip.length && s.writable) s.write(drip.subarray(i, ++i));
      }, 100);
    });
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.on('close', () => {
      clearInterval(timer);
      resolve(Date.now() - started);
    });
  });
}

const slowEvents = (listener: string, why: string) =>
  gw.logs.filter((l) => l.event === 'security' && l.kind === 'slow-client' && l.listener === listener && String(l.detail).startsWith(why)).length;

// MQTT 3.1.1 CONNECT (client id "d", keepalive 60 s), then a PUBLISH announcing 100 bytes.
const CONNECT = Buffer.from([0x10, 0x0d, 0, 4, 77, 81, 84, 84, 4, 2, 0, 60, 0, 1, 100]);
const PUBLISH_HEAD = Buffer.from([0x30, 100, 0, 3, 116, 47, 100]);

describe('slow drip', () => {
  it('MQTT: a PUBLISH dripping in is closed and reported; the drip never finishes', async () => {
    const ms = await drip(gw.port('mqtt'), Buffer.concat([CONNECT, PUBLISH_HEAD]), Buffer.alloc(95, 'x'));
    // 95 bytes at 10/s would take 9.5 s to finish the packet.
    expect(ms).toBeLessThan(8000);
    expect(slowEvents('mqtt', 'slow-drip')).toBeGreaterThanOrEqual(1);
  });

  it('MQTT: an idle connection with no packet in progress is left alone', async () => {
    const s = netConnect(gw.port('mqtt'), '127.0.0.1');
    const got: Buffer[] = [];
    s.on('data', (d) => got.push(d));
    await new Promise((r) => s.once('connect', r));
    s.write(Buffer.from([0x10, 0x0d, 0, 4, 77, 81, 84, 84, 4, 2, 0, 60, 0, 1, 105]));
    await until(() => got.length > 0);
    await new Promise((r) => setTimeout(r, 1500));
    s.write(Buffer.from([0xc0, 0x00])); // PINGREQ
    await until(() => Buffer.concat(got).includes(Buffer.from([0xd0, 0x00])));
    s.destroy();
  });

  it('AMQP: a frame dripping in after the protocol header is closed and reported', async () => {
    const header = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);
    const ms = await drip(gw.port('amqp'), header, Buffer.from([0, 0, 0, 100, 2, 0, 0, 0, ...Buffer.alloc(92)]));
    expect(ms).toBeLessThan(8000);
    expect(slowEvents('amqp', 'slow-drip')).toBeGreaterThanOrEqual(1);
  });

  it('HTTP: a header section dripping in is closed and reported', async () => {
    const ms = await drip(gw.port('web'), Buffer.from('POST /ingress/t HTTP/1.1\r\nhost: a\r\n'), Buffer.from(`x-pad: ${'p'.repeat(90)}\r\n\r\n`));
    expect(ms).toBeLessThan(8000);
    expect(slowEvents('web', 'slow-drip')).toBeGreaterThanOrEqual(1);
  });
});

describe('not reading', () => {
  it('MQTT: a client that stops reading its replies is closed once its unread output passes maxOutboundBytes', async () => {
    const s = netConnect(gw.port('mqtt'), '127.0.0.1');
    s.on('error', () => undefined);
    await new Promise((r) => s.once('connect', r));
    // Never read: paused, so the kernel buffers fill and the replies pile up in thinggate's socket buffer.
    s.pause();
    const opts = { protocolVersion: 5 } as const;
    s.write(mqttPacket.generate({ cmd: 'connect', protocolVersion: 5, clientId: 'deaf', clean: true, keepalive: 0 }, opts));
    // Batches below the Receive Maximum (64): each QoS 1 PUBLISH is answered by a 60 kB QoS 1 reply.
    const base = backend.requests.length;
    for (let i = 1; i <= 600 && slowEvents('mqtt', 'not-reading') === 0; i++) {
      const publish = {
        cmd: 'publish',
        topic: 't/deaf',
        payload: 'q',
        qos: 1,
        messageId: i,
        dup: false,
        retain: false,
        properties: { responseTopic: 'r/deaf' },
      } as const;
      s.write(mqttPacket.generate(publish, opts));
      if (i % 20 === 0) await until(() => backend.requests.length >= base + i - 10 || slowEvents('mqtt', 'not-reading') > 0);
    }
    await until(() => slowEvents('mqtt', 'not-reading') >= 1);
    expect(gw.gateway.bans.list()).toEqual([]);
    s.destroy();
  });
});
