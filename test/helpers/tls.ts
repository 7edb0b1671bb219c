/**
 * A throw-away self-signed server certificate (CN=localhost, EC P-256) made
 * with openssl, for listeners' `tls` sections in tests, and a gateway in
 * front of a TestBackend that uses one.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type TestGateway } from './gateway.js';
import { TestBackend } from './backend.js';

export interface TestCert {
  readonly cert: string;
  readonly key: string;
  remove(): void;
}

export function selfSignedCert(): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'tg-cert-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'],
    { stdio: 'ignore' },
  );
  return { cert, key, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TlsBed {
  readonly gw: TestGateway;
  readonly backend: TestBackend;
  close(): Promise<void>;
}

/** A back-end, a certificate and a gateway whose configuration `config` builds from them (its `tls` sections, the pool's URL). */
export async function startTlsBed(config: (tls: { cert: string; key: string }, backendUrl: string) => unknown): Promise<TlsBed> {
  const cert = selfSignedCert();
  const backend = await TestBackend.start();
  let gw: TestGateway;
  try {
    gw = await startGateway(config({ cert: cert.cert, key: cert.key }, backend.url));
  } catch (err) {
    await backend.close();
    cert.remove();
    throw err;
  }
  return {
    gw,
    backend,
    close: async () => {
      await gw.stop();
      await backend.close();
      cert.remove();
    },
  };
}
