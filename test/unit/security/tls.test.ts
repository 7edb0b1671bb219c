import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverTlsOptions, tlsHandshakeFailure } from '../../../src/security/tls.js';
import { ThinggateError } from '../../../src/errors.js';

describe('listener TLS material', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tg-tls-'));
  writeFileSync(join(dir, 'server.crt'), 'CERT');
  writeFileSync(join(dir, 'server.key'), 'KEY');
  writeFileSync(join(dir, 'ca.crt'), 'CA');

  it('reads files relative to the configuration folder and verifies clients only against a given CA', () => {
    const base = { cert: 'server.crt', key: 'server.key', requestCert: true, minVersion: 'TLSv1.3' as const };
    const withCa = serverTlsOptions('mqtts', { ...base, ca: 'ca.crt' }, dir);
    expect(withCa).toMatchObject({ cert: Buffer.from('CERT'), key: Buffer.from('KEY'), ca: Buffer.from('CA'), rejectUnauthorized: true, minVersion: 'TLSv1.3' });
    expect(serverTlsOptions('mqtts', base, dir).rejectUnauthorized).toBe(false);
  });

  it('names the listener and the file it cannot read', () => {
    try {
      serverTlsOptions('mqtts', { cert: 'missing.crt', key: 'server.key', requestCert: false, minVersion: 'TLSv1.2' }, dir);
      throw new Error('no error');
    } catch (err) {
      expect(err).toBeInstanceOf(ThinggateError);
      expect((err as ThinggateError).code).toBe('TG_ERR_TLS_MATERIAL');
      expect((err as Error).message).toMatch(/listener 'mqtts': cannot read TLS material 'missing\.crt'/);
    }
  });
});

describe('TLS handshake failure reasons', () => {
  const failure = (code: string | undefined, message: string): Error & { code?: string } => Object.assign(new Error(message), code === undefined ? {} : { code });

  it('names the common causes and keeps the OpenSSL code', () => {
    expect(tlsHandshakeFailure(failure('ERR_SSL_NO_SHARED_CIPHER', 'x'))).toBe('no shared cipher (ERR_SSL_NO_SHARED_CIPHER)');
    expect(tlsHandshakeFailure(failure('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'x'))).toMatch(/^client does not trust our certificate \(unknown CA\)/);
    expect(tlsHandshakeFailure(failure('ERR_SSL_UNSUPPORTED_PROTOCOL', 'x'))).toMatch(/^unsupported TLS version/);
    expect(tlsHandshakeFailure(failure('ECONNRESET', 'socket hang up'))).toMatch(/^connection closed during the handshake/);
    expect(tlsHandshakeFailure(failure(undefined, 'TLS handshake timeout'))).toBe('handshake time-out');
  });

  it('keeps the reason text of an unforeseen OpenSSL error without its source file and line', () => {
    const message = '80FCD028937F0000:error:0A0000F4:SSL routines:ossl_statem_server_read_transition:unexpected message:../deps/openssl/openssl/ssl/statem/statem_srvr.c:354:\n';
    expect(tlsHandshakeFailure(failure('ERR_SSL_UNEXPECTED_MESSAGE', message))).toBe('unexpected message (ERR_SSL_UNEXPECTED_MESSAGE)');
  });
});
