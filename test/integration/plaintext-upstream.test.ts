/**
 * A route that takes a TLS listener's messages to a plain-http pool is
 * warned about at start (decrypted device data leaving in clear) unless the
 * pool allows it; so is a route whose mirror pool is plain http.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGateway } from '../helpers/gateway.js';
import { selfSignedCert, type TestCert } from '../helpers/tls.js';

let cert: TestCert;
beforeAll(() => {
  cert = selfSignedCert();
});
afterAll(() => cert.remove());

it('warns once per route carrying TLS listener traffic to plain http, unless the pool allows it', async () => {
  const gw = await startGateway({
    listeners: [
      { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0, tls: { cert: cert.cert, key: cert.key } },
      { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
    ],
    pools: [
      { name: 'clear', endpoints: [{ url: 'http://127.0.0.1:9' }] },
      { name: 'lab', endpoints: [{ url: 'http://127.0.0.1:9' }], allowPlaintext: true },
    ],
    routes: [
      { name: 'plain-only', match: { listener: 'mqtt', address: 'a/#' }, pool: 'clear' },
      { name: 'allowed', match: { address: 'b/#' }, pool: 'lab' },
      { name: 'taps', match: { address: 'c/#' }, pool: 'lab', mirror: { pool: 'clear' } },
      { name: 'leaks', match: { address: '#' }, pool: 'clear' },
    ],
  });
  try {
    const warnings = gw.logs.filter((l) => l.event === 'plaintext-upstream').map((l) => String(l.msg));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^route 'taps' mirrors decrypted copies from TLS listener\(s\) 'mqtts' to pool 'clear' over plain http/);
    expect(warnings[1]).toMatch(/^route 'leaks' takes messages from TLS listener\(s\) 'mqtts' to pool 'clear' over plain http/);
  } finally {
    await gw.stop();
  }
});
