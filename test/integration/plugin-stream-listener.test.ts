/**
 * A plugin's stream listener end to end: a TCP client speaks the fixture's
 * line protocol, its messages reach a real back-end, and a plugin that throws
 * closes only the connection it was serving. Southbound, messages reach an
 * admitted connection through the plugin's `deliver` and settle exactly once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { tcpClient } from '../helpers/tcp-client.js';
import { until } from '../helpers/run.js';
import type { DeviceMessage } from '../../src/devices/registry.js';

const fixtures = join(import.meta.dirname, '../fixtures/plugins');

describe('plugin stream listener', () => {
  let backend: TestBackend;
  let gw: TestGateway;

  beforeEach(async () => {
    backend = await TestBackend.start();
    gw = await startGateway(
      {
        plugins: [{ use: './lines.mjs' }],
        listeners: [{ name: 'lines', protocol: 'lines', host: '127.0.0.1', port: 0, lines: { prefix: 'text' } }],
        pools: [{ name: 'p', endpoints: [{ url: backend.url }] }],
        routes: [{ match: { protocol: 'lines' }, pool: 'p', request: { path: '/in/{address}' } }],
      },
      { baseDir: fixtures },
    );
  });

  afterEach(async () => {
    await gw.stop();
    await backend.close();
  });

  it('turns frames into envelopes and answers after the back-end', async () => {
    const c = await tcpClient(gw.port('lines'));
    c.socket.write('dev-7\nhello\n');
    await c.until((d) => d.toString().includes('ok 200\n'));
    expect(backend.requests[0]).toMatchObject({ url: '/in/text/dev-7', body: Buffer.from('hello') });
    expect(backend.requests[0]!.headers['x-thinggate-client-id']).toBe('dev-7');
    expect(backend.requests[0]!.headers['x-thinggate-protocol']).toBe('lines');
    c.socket.destroy();
  });

  it('closes only the connection whose plugin code threw, and keeps serving others', async () => {
    const good = await tcpClient(gw.port('lines'));
    const bad = await tcpClient(gw.port('lines'));
    good.socket.write('good\n');
    bad.socket.write('bad\nboom\n');
    await bad.closed();
    const later = await tcpClient(gw.port('lines'));
    later.socket.write('late\nboom-later\n');
    await later.closed();
    good.socket.write('still here\n');
    await good.until((d) => d.toString().includes('ok 200\n'));
    expect(backend.requests.map((r) => r.body.toString())).toContain('still here');
    expect(await gw.guardEvents('plugin-error', 'lines')).toBe(2);
    expect(gw.logs.some((l) => String(l.msg).includes('plugin listener failed in onData'))).toBe(true);
    good.socket.destroy();
  });

  /** A message toward devices on `topic` whose settlements are recorded. */
  const southbound = (topic: string, payload: string): { message: DeviceMessage; settled: Array<[boolean, string?]> } => {
    const settled: Array<[boolean, string?]> = [];
    const message: DeviceMessage = { topic, payload: Buffer.from(payload), qos: 1, retain: false, onSettled: (ok, reason) => settled.push([ok, reason]) };
    return { message, settled };
  };

  it('delivers to an admitted connection through the plugin and settles once written', async () => {
    const c = await tcpClient(gw.port('lines'));
    c.socket.write('dev-1\n');
    await until(() => gw.gateway.devices.wants('dev-1', 'text/dev-1/in'));
    const m = southbound('text/dev-1/in', 'light on');
    expect(gw.gateway.devices.publish(m.message).delivered).toBe(1);
    await c.until((d) => d.toString().includes('> light on\n'));
    await until(() => m.settled.length === 1);
    expect(m.settled).toEqual([[true, undefined]]);
    c.socket.destroy();
    await until(() => gw.gateway.devices.lookup('dev-1') === undefined);
  });

  it('closes the older connection of a client id that connects again', async () => {
    const first = await tcpClient(gw.port('lines'));
    first.socket.write('dev-2\n');
    await until(() => gw.gateway.devices.lookup('dev-2') !== undefined);
    const second = await tcpClient(gw.port('lines'));
    second.socket.write('dev-2\n');
    await first.closed();
    await until(() => gw.gateway.devices.wants('dev-2', 'text/dev-2/in'));
    gw.gateway.devices.publish(southbound('text/dev-2/in', 'to the new one').message);
    await second.until((d) => d.toString().includes('> to the new one\n'));
    second.socket.destroy();
  });

  it('closes a connection whose deliver throws; the message stays with the caller', async () => {
    const c = await tcpClient(gw.port('lines'));
    c.socket.write('dev-3\n');
    await until(() => gw.gateway.devices.wants('dev-3', 'text/dev-3/in'));
    const m = southbound('text/dev-3/in', 'explode');
    expect(gw.gateway.devices.publish(m.message).delivered).toBe(0);
    await c.closed();
    expect(m.settled).toEqual([]);
    expect(await gw.guardEvents('plugin-error', 'lines')).toBe(1);
    await until(() => gw.gateway.devices.lookup('dev-3') === undefined);
  });
});
