/**
 * HTTPS upstreams: the pool trusts a private CA, presents a client
 * certificate (mTLS), checks the server name and the certificate pins. Certificates are made with
 * openssl in a temporary folder; paths in the pool resolve against baseDir.
 */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalancer } from '../../src/balancer/index.js';
import { hasCode } from '../../src/errors.js';
import { poolConfig, request } from '../unit/balancer/helpers.js';

let dir: string;
let server: Server;
let url: string;
const peers: string[] = [];

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, a server certificate for localhost and a client certificate, all signed by the CA. */
function makeCertificates(): void {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=thinggate test CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  );
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=gateway-1');
  openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-tls-'));
  makeCertificates();
  server = createServer(
    {
      key: readFileSync(join(dir, 'server.key')),
      cert: readFileSync(join(dir, 'server.crt')),
      ca: readFileSync(join(dir, 'ca.crt')),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      peers.push(String((req.socket as TLSSocket).getPeerCertificate().subject.CN));
      req.resume();
      req.on('end', () => res.end('secure'));
    },
  );
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('balancer HTTPS upstreams', () => {
  it('trusts the CA, presents the client certificate and checks the server name', async () => {
    const balancer = createBalancer(
      [poolConfig({ endpoints: [{ url }], tls: { ca: 'ca.crt', cert: 'client.crt', key: 'client.key', servername: 'localhost', minVersion: 'TLSv1.3' } })],
      { baseDir: dir },
    );
    try {
      expect(await balancer.dispatch(request())).toMatchObject({ kind: 'response', status: 200, body: Buffer.from('secure') });
      expect(peers).toContain('gateway-1');
    } finally {
      await balancer.close(0);
    }
  });

  it('fails without a client certificate, and with a server name the certificate does not carry', async () => {
    for (const tls of [
      { ca: 'ca.crt', servername: 'localhost' },
      { ca: 'ca.crt', cert: 'client.crt', key: 'client.key', servername: 'elsewhere.example' },
    ]) {
      const balancer = createBalancer([poolConfig({ endpoints: [{ url }], tls, retries: { maxAttempts: 1 } })], { baseDir: dir });
      try {
        expect(await balancer.dispatch(request())).toMatchObject({ kind: 'unavailable', code: 'TG_ERR_UPSTREAM_UNAVAILABLE' });
      } finally {
        await balancer.close(0);
      }
    }
  });

  describe('certificate pinning', () => {
    const x509 = (file: string): X509Certificate => new X509Certificate(readFileSync(join(dir, file)));
    const dispatch = async (pin: string[]): Promise<unknown> => {
      const tls = { ca: 'ca.crt', cert: 'client.crt', key: 'client.key', servername: 'localhost', pin };
      const balancer = createBalancer([poolConfig({ endpoints: [{ url }], tls, retries: { maxAttempts: 1 } })], { baseDir: dir });
      try {
        return await balancer.dispatch(request());
      } finally {
        await balancer.close(0);
      }
    };

    it('reaches a server whose certificate fingerprint or public key is pinned', async () => {
      expect(await dispatch([x509('server.crt').fingerprint256])).toMatchObject({ kind: 'response', status: 200 });
      const spki = x509('server.crt').publicKey.export({ type: 'spki', format: 'der' });
      expect(await dispatch([`sha256/${createHash('sha256').update(spki).digest('base64')}`])).toMatchObject({ kind: 'response', status: 200 });
    });

    it('refuses a server that matches no pin, though its CA is trusted', async () => {
      expect(await dispatch([x509('client.crt').fingerprint256])).toMatchObject({ kind: 'unavailable', code: 'TG_ERR_UPSTREAM_UNAVAILABLE' });
    });
  });

  it('refuses a TLS file that cannot be read, naming its JSON path', () => {
    let err: unknown;
    try {
      createBalancer([poolConfig({ endpoints: [{ url }], tls: { ca: 'missing.crt' } })], { baseDir: dir });
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, 'TG_ERR_CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toContain('/pools/0/tls/ca');
  });
});
