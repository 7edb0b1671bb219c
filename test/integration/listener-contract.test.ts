/**
 * The contract every listener passes, built-in or plugin: built from the
 * listener registry by its protocol name, it binds port 0 on start, reports
 * its address and counters, refuses southbound delivery to a client it does
 * not have, and stops (twice, harmlessly) releasing its port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { connect } from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { builtinRegistries } from '../../src/plugins/builtins.js';

const root = join(import.meta.dirname, '../..');
const PLUGIN_LISTENERS: Record<string, { use: string; options: Record<string, unknown> }> = {
  'framed-tcp': { use: join(root, 'plugins/framed-tcp'), options: { framing: { type: 'delimiter' }, address: 'x/{deviceId}' } },
  'framed-udp': { use: join(root, 'plugins/framed-tcp'), options: { address: 'x/{deviceId}' } },
  lines: { use: join(root, 'test/fixtures/plugins/lines.mjs'), options: {} },
};
const BUILTIN = builtinRegistries()
  .listeners.entries()
  .map((e) => e.item.name);

describe.each([...BUILTIN, ...Object.keys(PLUGIN_LISTENERS)])('listener contract: %s', (protocol) => {
  let gw: TestGateway;
  const plugin = PLUGIN_LISTENERS[protocol];

  beforeAll(async () => {
    gw = await startGateway({
      ...(plugin && { plugins: [{ use: plugin.use }] }),
      listeners: [{ name: 'l', protocol, host: '127.0.0.1', port: 0, ...(plugin && { [protocol]: plugin.options }) }],
      pools: [{ name: 'p', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
      routes: [{ match: { address: '#' }, pool: 'p' }],
    });
  });

  afterAll(async () => {
    await gw?.stop();
  });

  it('is built by its registered name and bound on start', () => {
    const l = gw.gateway.listener('l')!;
    expect(l.name).toBe('l');
    expect(l.protocol).toBe(protocol);
    expect(l.address()?.port).toBeGreaterThan(0);
  });

  it('reports counters', () => {
    expect(gw.gateway.listener('l')!.stats()).toMatchObject({
      connections: expect.any(Number),
      messagesIn: expect.any(Number),
      messagesOut: expect.any(Number),
      protocolErrors: expect.any(Number),
    });
  });

  it('refuses delivery to a client it does not have', () => {
    expect(gw.gateway.listener('l')!.deliver('nobody', { topic: 't', payload: Buffer.from('x'), qos: 0, retain: false })).toBe(false);
  });

  it('stops, twice harmlessly, releasing its port', async () => {
    const l = gw.gateway.listener('l')!;
    const port = l.address()!.port;
    await l.stop({ drain: false });
    await l.stop({ drain: false });
    if (protocol === 'coap' || protocol === 'framed-udp') return; // UDP: nothing to refuse a connection
    const refused = await new Promise<boolean>((resolve) =>
      connect(port, '127.0.0.1')
        .once('error', () => resolve(true))
        .once('connect', function (this: import('node:net').Socket) {
          this.destroy();
          resolve(false);
        }),
    );
    expect(refused).toBe(true);
  });
});
