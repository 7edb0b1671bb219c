import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clientCertFailure, tlsHandshakeFailure } from '../../../src/security/tls.js';
import { loadTlsMaterial } from '../../../src/security/tls-material.js';
import { normalizeTls, tlsProblems } from '../../../src/config/sections/listener-tls.js';
import { ThinggateError } from '../../../src/errors.js';

describe('listener TLS material', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tg-tls-'));
  writeFileSync(join(dir, 'server.crt'), 'CERT');
  writeFileSync(join(dir, 'server.key'), 'KEY');
  const tls = normalizeTls({
    cert: 'server.crt',
    key: 'server.key',
    certificates: [],
    crl: [],
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    expiryWarningDays: 14,
    watch: false,
  });

  it('names the listener and the file it cannot read', () => {
    try {
      loadTlsMaterial('mqtts', { ...tls, cert: 'missing.crt' }, dir);
      throw new Error('no error');
    } catch (err) {
      expect(err).toBeInstanceOf(ThinggateError);
      expect((err as ThinggateError).code).toBe('TG_ERR_TLS_MATERIAL');
      expect((err as Error).message).toMatch(/listener 'mqtts': cannot read TLS material 'missing\.crt'/);
    }
  });

  it('names the pair it cannot use', () => {
    expect(() => loadTlsMaterial('mqtts', tls, dir)).toThrow(/listener 'mqtts': bad certificate or key 'server\.crt' \/ 'server\.key'/);
  });
});

describe('client certificate settings', () => {
  const base = {
    cert: 'c',
    key: 'k',
    certificates: [],
    crl: [] as string[],
    minVersion: 'TLSv1.2' as const,
    maxVersion: 'TLSv1.3' as const,
    expiryWarningDays: 14,
    watch: true,
  };

  it('reads the deprecated requestCert as required with a CA and optional without', () => {
    expect(normalizeTls({ ...base, ca: 'ca', requestCert: true })).toMatchObject({ clientCert: 'required', requestCert: true });
    expect(normalizeTls({ ...base, requestCert: true })).toMatchObject({ clientCert: 'optional', requestCert: true });
    expect(normalizeTls(base)).toMatchObject({ clientCert: 'none', requestCert: false });
  });

  it('names what a section lacks', () => {
    expect(tlsProblems({ ...base, clientCert: 'required' }, '/listeners/0/tls')).toEqual([`/listeners/0/tls/ca: is required when clientCert is 'required'`]);
    expect(tlsProblems({ ...base, ca: 'ca', clientCert: 'required', requestCert: true }, '/l')).toEqual(['/l/requestCert: deprecated; give only clientCert']);
    expect(tlsProblems({ ...base, crl: 'x.crl' }, '/l')).toEqual(['/l/crl: needs ca (revocation applies to verified client certificates)']);
    expect(tlsProblems({ ...base, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.2' }, '/l')).toEqual(['/l/maxVersion: below minVersion']);
  });

  it('names the reason a presented certificate failed', () => {
    expect(clientCertFailure('CERT_REVOKED')).toBe('client certificate revoked (CERT_REVOKED)');
    expect(clientCertFailure('SELF_SIGNED_CERT_IN_CHAIN')).toMatch(/^client certificate from an unknown CA/);
    expect(clientCertFailure('SOMETHING_ELSE')).toBe('client certificate not trusted (SOMETHING_ELSE)');
  });
});

describe('TLS handshake failure reasons', () => {
  const failure = (code: string | undefined, message: string): Error & { code?: string } =>
    Object.assign(new Error(message), code === undefined ? {} : { code });

  it('names the common causes and keeps the OpenSSL code', () => {
    expect(tlsHandshakeFailure(failure('ERR_SSL_NO_SHARED_CIPHER', 'x'))).toBe('no shared cipher (ERR_SSL_NO_SHARED_CIPHER)');
    expect(tlsHandshakeFailure(failure('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'x'))).toMatch(/^client does not trust our certificate \(unknown CA\)/);
    expect(tlsHandshakeFailure(failure('ERR_SSL_UNSUPPORTED_PROTOCOL', 'x'))).toMatch(/^unsupported TLS version/);
    expect(tlsHandshakeFailure(failure('ECONNRESET', 'socket hang up'))).toMatch(/^connection closed during the handshake/);
    expect(tlsHandshakeFailure(failure(undefined, 'TLS handshake timeout'))).toBe('handshake time-out');
  });

  it('keeps the reason text of an unforeseen OpenSSL error without its source file and line', () => {
    const message =
      '80FCD028937F0000:error:0A0000F4:SSL routines:ossl_statem_server_read_transition:unexpected message:../deps/openssl/openssl/ssl/statem/statem_srvr.c:354:\n';
    expect(tlsHandshakeFailure(failure('ERR_SSL_UNEXPECTED_MESSAGE', message))).toBe('unexpected message (ERR_SSL_UNEXPECTED_MESSAGE)');
  });
});
