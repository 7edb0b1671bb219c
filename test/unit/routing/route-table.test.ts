import { describe, it, expect } from 'vitest';
import { RouteTable } from '../../../src/routing/route-table.js';
import { compilePathTemplate } from '../../../src/routing/path-template.js';
import { parseConfig } from '../../../src/config/load.js';
import { createEnvelope, type Envelope, type Protocol } from '../../../src/envelope/index.js';

function env(address: string, protocol: Protocol = 'mqtt', listener = 'mqtt', clientId = 'dev-1'): Envelope {
  return createEnvelope({
    protocol,
    listener,
    source: { clientId, remoteAddress: '127.0.0.1' },
    address,
    method: protocol === 'mqtt' ? 'PUBLISH' : 'POST',
    payload: Buffer.alloc(0),
    delivery: 'at-least-once',
  });
}

const config = parseConfig(
  {
    listeners: [
      { name: 'mqtt', protocol: 'mqtt', port: 0 },
      { name: 'coap', protocol: 'coap', port: 0 },
    ],
    pools: [{ name: 'p', endpoints: [{ url: 'http://127.0.0.1:1' }] }],
    routes: [
      { name: 'coap-only', match: { protocol: 'coap', address: 'telemetry/#' }, pool: 'p' },
      { name: 'telemetry', match: { address: 'telemetry/+/#' }, pool: 'p', request: { path: '/t/{address.1}/{clientId}' } },
      { name: 'devices', match: { listener: 'mqtt', address: 'devices/#' }, target: 'devices' },
      { name: 'rest', match: { address: '#' }, pool: 'p' },
    ],
  },
  { env: {} },
);

describe('route table', () => {
  const table = new RouteTable(config.routes);

  it('takes the first matching route', () => {
    expect(table.match(env('telemetry/a/b'))!.name).toBe('telemetry');
    expect(table.match(env('telemetry/a/b', 'coap', 'coap'))!.name).toBe('coap-only');
    expect(table.match(env('devices/x'))!.kind).toBe('devices');
    expect(table.match(env('devices/x', 'coap', 'coap'))!.name).toBe('rest');
    expect(table.match(env('other'))!.name).toBe('rest');
  });

  it('renders path placeholders, encoding what could change the path', () => {
    const route = table.match(env('telemetry/room 1/temp'))!;
    expect(route.renderPath(env('telemetry/room 1/temp', 'mqtt', 'mqtt', 'dev?1'))).toBe('/t/room%201/dev%3F1');
    const all = compilePathTemplate('/m/{address}?from={clientId}&via={listener}&p={protocol}');
    expect(all(env('a/../b/ü'))).toBe('/m/a/%2E%2E/b/%C3%BC?from=dev-1&via=mqtt&p=mqtt');
    expect(compilePathTemplate('/x/{address.7}')(env('a/b'))).toBe('/x/');
  });
});

describe('match.tlsFingerprint', () => {
  const JA4 = 't13d0306mt_0123456789ab_ba9876543210';
  const JA3 = '0123456789abcdef0123456789abcdef';
  const table = new RouteTable(
    parseConfig({
      listeners: [],
      pools: [{ name: 'p', endpoints: [{ url: 'http://127.0.0.1:1' }] }],
      routes: [
        { name: 'known-ja4', match: { address: '#', tlsFingerprint: JA4 }, pool: 'p' },
        { name: 'known-ja3', match: { address: '#', tlsFingerprint: [JA3] }, pool: 'p' },
        { name: 'other', match: { address: '#' }, pool: 'p' },
      ],
    }).routes,
  );
  const withTls = (tls?: { ja4?: string; ja3?: string }): Envelope =>
    createEnvelope({
      protocol: 'mqtt',
      listener: 'mqtts',
      source: {
        clientId: 'd',
        remoteAddress: '127.0.0.1',
        ...(tls && { tls: { version: 'TLSv1.3', cipher: 'x', resumed: false, authorized: false, ...tls } }),
      },
      address: 'a',
      method: 'PUBLISH',
      payload: Buffer.alloc(0),
      delivery: 'at-least-once',
    });

  it('matches a connection whose JA4 or JA3 is listed, and never a plain one', () => {
    expect(table.match(withTls({ ja4: JA4, ja3: 'f'.repeat(32) }))?.name).toBe('known-ja4');
    expect(table.match(withTls({ ja4: 't13d000000_000000000000_000000000000', ja3: JA3 }))?.name).toBe('known-ja3');
    expect(table.match(withTls({ ja4: 't12d000000_000000000000_000000000000' }))?.name).toBe('other');
    expect(table.match(withTls())?.name).toBe('other');
  });

  it('refuses a value that is neither a JA4 nor a JA3 fingerprint, naming its path', () => {
    expect(() =>
      parseConfig({
        listeners: [],
        pools: [{ name: 'p', endpoints: [{ url: 'http://127.0.0.1:1' }] }],
        routes: [{ match: { tlsFingerprint: 'chrome' }, pool: 'p' }],
      }),
    ).toThrow(/\/routes\/0\/match\/tlsFingerprint/);
  });
});
