/**
 * A throw-away PKI made with openssl for mutual-TLS tests: a CA, a server
 * certificate (CN=localhost, SAN DNS:localhost/IP:127.0.0.1) and client
 * certificates signed by the CA, or by an unknown CA.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pki {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** Makes a client key and certificate with `cn` (and a URI SAN when given), signed by this CA or, with `rogue`, by a CA nobody trusts. */
  client(cn: string, options?: { uri?: string; rogue?: boolean }): { cert: string; key: string; fingerprint: string };
  remove(): void;
}

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
}

function ca(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
  ]);
  return { cert, key };
}

function signed(dir: string, name: string, cn: string, issuer: { cert: string; key: string }, san: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, `subjectAltName=${san}\n`);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
  openssl(['x509', '-req', '-in', csr, '-CA', issuer.cert, '-CAkey', issuer.key, '-CAcreateserial', '-out', cert, '-days', '1', '-extfile', ext]);
  return { cert, key };
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'tg-pki-'));
  const root = ca(dir, 'ca');
  const server = signed(dir, 'server', 'localhost', root, 'DNS:localhost,IP:127.0.0.1');
  let rogueCa: { cert: string; key: string } | undefined;
  let n = 0;
  return {
    dir,
    ca: root.cert,
    serverCert: server.cert,
    serverKey: server.key,
    client(cn, options = {}) {
      const issuer = options.rogue ? (rogueCa ??= ca(dir, 'rogue-ca')) : root;
      const c = signed(dir, `client-${n++}`, cn, issuer, options.uri ? `URI:${options.uri}` : `DNS:${cn}.devices`);
      const fp = /=([0-9A-F:]+)/.exec(openssl(['x509', '-in', c.cert, '-noout', '-fingerprint', '-sha256']))![1]!;
      return { ...c, fingerprint: fp };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
