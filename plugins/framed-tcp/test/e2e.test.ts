/**
 * plugins/framed-tcp end to end with its worked example: the device simulator
 * speaks the binary telemetry protocol over real TCP, a real back-end gets
 * JSON, and the device gets an acknowledgement per frame only after the
 * back-end's 2xx (a negative one after a refusal).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { useExample } from '../../../test/helpers/plugin-example.js';
import { tcpClient } from '../../../test/helpers/tcp-client.js';
import { runDevice, telemetryFrame } from '../example/simulator.mjs';

const example = join(import.meta.dirname, '../example');

describe('plugins/framed-tcp end to end', () => {
  const bed = useExample(example, (req) => (req.url.includes('badbadbadbad') ? { status: 422, body: 'no' } : { status: 200 }));

  it('acknowledges each frame after the back-end took it as JSON', async () => {
    const answers = await runDevice({ port: bed.gw.port('sensors'), device: '0a1b2c3d4e5f', count: 5 });
    expect(answers.map((a: { seq: number }) => a.seq).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(answers.every((a: { ok: boolean; device: string }) => a.ok && a.device === '0a1b2c3d4e5f')).toBe(true);
    const got = bed.backend.requests.filter((r) => r.url === '/telemetry/0a1b2c3d4e5f').map((r) => JSON.parse(r.body.toString()));
    expect(got).toHaveLength(5);
    expect(got).toContainEqual({ device: '0a1b2c3d4e5f', celsius: 20.1, humidity: 45.5, battery: 90 });
  });

  it('answers a frame the back-end refused with a negative acknowledgement', async () => {
    const answers = await runDevice({ port: bed.gw.port('sensors'), device: 'badbadbadbad', count: 1 });
    expect(answers).toEqual([{ device: 'badbadbadbad', seq: 1, ok: false }]);
  });

  it('closes a connection whose frame exceeds limits.maxPacketBytes, and reports it', async () => {
    const c = await tcpClient(bed.gw.port('sensors'));
    c.socket.write(Buffer.from([0x04, 0x01])); // announces 1025 bytes
    await c.closed();
    expect(await bed.gw.guardEvents('protocol-error', 'sensors')).toBeGreaterThanOrEqual(1);
  });

  it('closes a connection whose device id changes mid-stream', async () => {
    const c = await tcpClient(bed.gw.port('sensors'));
    c.socket.write(Buffer.concat([telemetryFrame('111111111111', 1, 20, 40, 50), telemetryFrame('222222222222', 2, 20, 40, 50)]));
    await c.closed();
    expect(bed.gw.logs.some((l) => String(l.detail ?? '').includes('device id changed'))).toBe(true);
  });
});
