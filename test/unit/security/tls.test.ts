import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverTlsOptions } from '../../../src/security/tls.js';
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
