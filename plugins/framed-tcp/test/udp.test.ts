/**
 * plugins/framed-tcp over UDP (`framed-udp`): the worked example's simulator
 * sends each frame as a datagram and gets its acknowledgement back at its
 * source address; malformed datagrams are reported and forget the source;
 * per-source state is bounded by limits.maxConnections and idle expiry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { useExample } from '../../../test/helpers/plugin-example.js';
import { startGateway, type TestGateway } from '../../../test/helpers/gateway.js';
import { TestBackend } from '../../../test/helpers/backend.js';
import { until } from '../../../test/helpers/run.js';
import { parseAnswers, runDevice, telemetryFrame } from '../example/simulator.mjs';

const example = join(import.meta.dirname, '../example');

/** A UDP client socket that records the datagrams it gets. */
async function udpClient(port: number): Promise<{ socket: Socket; got: Buffer[]; send(b: Buffer): void; close(): void }> {
  const socket = createSocket('udp4');
  const got: Buffer[] = [];
  socket.on('message', (m) => got.push(m));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return { socket, got, send: (b) => socket.send(b, port, '127.0.0.1'), close: () => socket.close() };
}

describe('framed-udp with the worked example', () => {
  const bed = useExample(example, (req) => (req.url.includes('badbadbadbad') ? { status: 422, body: 'no' } : { status: 200 }));

  it('acknowledges each datagram to its source after the back-end took it as JSON', async () => {
    const answers = await runDevice({ port: bed.gw.port('sensors-udp'), device: '0c0c0c0c0c0c', count: 5, udp: true });
    expect(answers.map((a: { seq: number }) => a.seq).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(answers.every((a: { ok: boolean }) => a.ok)).toBe(true);
    const got = bed.backend.requests.filter((r) => r.url === '/telemetry/0c0c0c0c0c0c');
    expect(got).toHaveLength(5);
    expect(bed.backend.requests.find((r) => r.url === '/telemetry/0c0c0c0c0c0c')!.headers['x-thinggate-protocol']).toBe('framed-udp');
  });

  it('answers a refused datagram with a negative acknowledgement', async () => {
    const answers = await runDevice({ port: bed.gw.port('sensors-udp'), device: 'badbadbadbad', count: 1, udp: true });
    expect(answers).toEqual([{ device: 'badbadbadbad', seq: 1, ok: false }]);
  });

  it('reports a datagram ending inside a frame, forgets the source, and serves its next datagram', async () => {
    const c = await udpClient(bed.gw.port('sensors-udp'));
    const before = await bed.gw.guardEvents('protocol-error', 'sensors-udp');
    const frame = telemetryFrame('0d0d0d0d0d0d', 1, 20, 40, 50);
    c.send(frame.subarray(0, frame.length - 2));
    await until(async () => (await bed.gw.guardEvents('protocol-error', 'sensors-udp')) === before + 1);
    expect(bed.gw.logs.some((l) => String(l.detail ?? '').includes('ends inside a frame'))).toBe(true);
    c.send(frame);
    await until(() => c.got.length === 1);
    expect(parseAnswers(c.got[0]!)).toEqual([{ device: '0d0d0d0d0d0d', seq: 1, ok: true }]);
    c.close();
  });

  it('reports a datagram whose frame exceeds limits.maxPacketBytes', async () => {
    const c = await udpClient(bed.gw.port('sensors-udp'));
    const before = await bed.gw.guardEvents('protocol-error', 'sensors-udp');
    c.send(Buffer.from([0x04, 0x01, 0x00])); // announces 1025 bytes
    await until(async () => (await bed.gw.guardEvents('protocol-error', 'sensors-udp')) === before + 1);
    c.close();
  });
});

describe('framed-udp per-source state', () => {
  let backend: TestBackend;
  let gw: TestGateway;
  beforeAll(async () => {
    backend = await TestBackend.start();
    gw = await startGateway({
      plugins: [{ use: join(import.meta.dirname, '../index.js') }],
      listeners: [
        {
          name: 'raw',
          protocol: 'framed-udp',
          host: '127.0.0.1',
          port: 0,
          limits: { maxConnections: 2 },
          // Each datagram is one frame: a 2-byte device id header then the body.
          'framed-udp': {
            header: { bytes: 2, deviceId: { offset: 0, length: 2, encoding: 'uint' } },
            address: 'raw/{deviceId}',
            ack: { payload: '06' },
            idleTimeoutMs: 200,
          },
        },
      ],
      pools: [{ name: 'p', endpoints: [{ url: backend.url }] }],
      routes: [{ match: { address: 'raw/+' }, pool: 'p', request: { path: '/{address}' } }],
    });
  });
  afterAll(async () => {
    await gw.stop();
    await backend.close();
  });

  it('takes a whole datagram as one frame and answers with header and ack, unframed', async () => {
    const c = await udpClient(gw.port('raw'));
    c.send(Buffer.from([0x01, 0x02, 0xaa, 0xbb]));
    await until(() => c.got.length === 1);
    expect(c.got[0]).toEqual(Buffer.from([0x01, 0x02, 0x06]));
    expect(backend.requests.at(-1)).toMatchObject({ url: '/raw/258', body: Buffer.from([0xaa, 0xbb]) });
    c.close();
  });

  it('drops a new source beyond limits.maxConnections until idle sources are forgotten', async () => {
    await until(() => gw.gateway.listener('raw')!.stats().connections === 0, 5000);
    const [a, b, c] = [await udpClient(gw.port('raw')), await udpClient(gw.port('raw')), await udpClient(gw.port('raw'))];
    a.send(Buffer.from([0x00, 0x0a, 0x01]));
    b.send(Buffer.from([0x00, 0x0b, 0x01]));
    await until(() => a.got.length === 1 && b.got.length === 1);
    c.send(Buffer.from([0x00, 0x0c, 0x01]));
    await until(async () => (await gw.guardEvents('connection-limit', 'raw')) >= 1);
    expect(c.got).toHaveLength(0);
    // idleTimeoutMs 200: both sources are forgotten, and the third is served.
    await until(() => gw.gateway.listener('raw')!.stats().connections === 0, 5000);
    c.send(Buffer.from([0x00, 0x0c, 0x02]));
    await until(() => c.got.length === 1);
    for (const s of [a, b, c]) s.close();
  });
});
