/**
 * Re-encryption toward back-ends: an HTTPS pool with a certificate pin
 * (fingerprint or public-key pin) reaches only the pinned server, and a
 * route that takes a TLS listener's messages to a plain-http pool is
 * warned about at start unless the pool allows it.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalancer } from '../../src/balancer/index.js';
import { poolConfig, request } from '../unit/balancer/helpers.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { startGateway } from '../helpers/gateway.js';

let pki: Pki;
let server: Server;
let url: string;

beforeAll(async () => {
  pki = makePki();
  server = createServer({ key: readFileSync(pki.server.key), cert: readFileSync(pki.server.cert) }, (req, res) => {
    req.resume();
    req.on('end', () => res.end('pinned'));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  pki.remove();
});

describe('certificate pinning', () => {
  const x509 = (): X509Certificate => new X509Certificate(readFileSync(pki.server.cert));
  const dispatch = async (pin: string[]): Promise<unknown> => {
    const balancer = createBalancer([poolConfig({ endpoints: [{ url }], tls: { ca: pki.ca, pin }, retries: { maxAttempts: 1 } })], { baseDir: pki.dir });
    try {
      return await balancer.dispatch(request());
    } finally {
      await balancer.close(0);
    }
  };

  it('reaches a server whose certificate fingerprint or public key is pinned', async () => {
    expect(await dispatch([x509().fingerprint256])).toMatchObject({ kind: 'response', status: 200 });
    const spki = x509().publicKey.export({ type: 'spki', format: 'der' });
    expect(await dispatch([`sha256/${createHash('sha256').update(spki).digest('base64')}`])).toMatchObject({ kind: 'response', status: 200 });
  });

  it('refuses a server that matches no pin, though its CA is trusted', async () => {
    const other = new X509Certificate(readFileSync(pki.client.cert)).fingerprint256;
    expect(await dispatch([other])).toMatchObject({ kind: 'unavailable', code: 'TG_ERR_UPSTREAM_UNAVAILABLE' });
  });
});

describe('plaintext upstream warning', () => {
  it('warns once per route carrying TLS listener traffic to plain http, unless the pool allows it', async () => {
    const gw = await startGateway({
      listeners: [
        { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0, tls: pki.server },
        { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
      ],
      pools: [
        { name: 'clear', endpoints: [{ url: 'http://127.0.0.1:9' }] },
        { name: 'lab', endpoints: [{ url: 'http://127.0.0.1:9' }], allowPlaintext: true },
      ],
      routes: [
        { name: 'plain-only', match: { listener: 'mqtt', address: 'a/#' }, pool: 'clear' },
        { name: 'allowed', match: { address: 'b/#' }, pool: 'lab' },
        { name: 'leaks', match: { address: '#' }, pool: 'clear' },
      ],
    });
    try {
      const warnings = gw.logs.filter((l) => l.event === 'plaintext-upstream').map((l) => String(l.msg));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^route 'leaks' takes messages from TLS listener\(s\) 'mqtts' to pool 'clear' over plain http/);
    } finally {
      await gw.stop();
    }
  });
});
