/**
 * Which scripts' onConnect apply to a client: those named by a route that
 * could match the client's listener and protocol, in route order; the first
 * refusal wins, attributes merge, the first principal wins.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { ScriptDir, build } from './support.js';
import type { ClientInfo } from '../../../src/listeners/listener.js';

const dir = new ScriptDir();
dir.write('only-a.js', `export function onConnect() { return reject('listener a is closed'); }\nexport function onMessage() { return drop(); }`);
dir.write(
  'coap.js',
  `export function onConnect() { return accept({ principal: 'coap-user', attributes: { via: 'coap' } }); }\nexport function onMessage() { return drop(); }`,
);
dir.write(
  'tag.js',
  `export function onConnect(c) { return accept({ principal: 'p-' + c.clientId, attributes: { tag: 'one', via: 'tag' } }); }\nexport function onMessage() { return drop(); }`,
);
dir.write(
  'more.js',
  `export function onConnect() { return accept({ principal: 'ignored', attributes: { more: 'yes' } }); }\nexport function onMessage() { return drop(); }`,
);
dir.write('no-hook.js', `export function onMessage() { return drop(); }`);

const config = parseConfig(
  {
    listeners: [
      { name: 'a', protocol: 'mqtt', port: 0 },
      { name: 'b', protocol: 'mqtt', port: 0 },
    ],
    pools: [{ name: 'p', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
    routes: [
      { match: { listener: 'a', address: 'x/#' }, pool: 'p', script: 'only-a.js' },
      { match: { protocol: 'coap', address: 'y/#' }, pool: 'p', script: 'coap.js' },
      { match: { address: 'z/#' }, pool: 'p', script: 'no-hook.js' },
      { match: { protocol: 'mqtt', address: 'w/#' }, pool: 'p', script: 'tag.js' },
      { match: { address: 'v/#' }, pool: 'p', script: 'more.js' },
    ],
    scripts: { watch: false },
  },
  { baseDir: dir.path, env: {} },
);
const { host } = await build(config);
afterAll(async () => {
  await host.close();
  dir.remove();
});

const client = (listener: string, protocol: ClientInfo['protocol'] = 'mqtt'): ClientInfo => ({
  protocol,
  listener,
  clientId: 'c1',
  remoteAddress: '127.0.0.1',
});

describe('onConnect scope', () => {
  it("a listener-restricted route's script applies only on that listener", async () => {
    expect(await host.onConnect(client('a'))).toEqual({ ok: false, status: 403, reason: 'listener a is closed' });
  });

  it('scripts of matching routes are asked in order; attributes merge and the first principal wins', async () => {
    expect(await host.onConnect(client('b'))).toEqual({
      ok: true,
      identity: { principal: 'p-c1', method: 'script', attributes: { tag: 'one', via: 'tag', more: 'yes' } },
    });
  });

  it('a protocol-restricted route applies only to that protocol', async () => {
    expect(await host.onConnect(client('coap-listener', 'coap'))).toEqual({
      ok: true,
      identity: { principal: 'coap-user', method: 'script', attributes: { via: 'coap', more: 'yes' } },
    });
  });
});
