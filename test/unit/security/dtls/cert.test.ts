import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commonName, peerFacts, verifyChain } from '../../../../src/security/dtls/cert.js';
import { makePki, type Pki } from '../../../helpers/pki.js';
import { selfSignedCert, type TestCert } from '../../../helpers/tls.js';

let pki: Pki;
let stranger: TestCert;
const der = (file: string): Buffer => new X509Certificate(readFileSync(file)).raw;

beforeAll(() => {
  pki = makePki();
  stranger = selfSignedCert();
});
afterAll(() => {
  pki?.remove();
  stranger?.remove();
});

describe('DTLS client certificate chains', () => {
  it('accepts a certificate the CA issued, and gives the facts TLS listeners give', () => {
    const ca = [new X509Certificate(readFileSync(pki.ca))];
    const r = verifyChain([der(pki.client.cert)], ca, Date.now());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(commonName(r.leaf)).toBe('device-1');
    expect(peerFacts(r.leaf)).toMatchObject({ subject: 'CN=device-1', issuer: 'CN=thinggate test CA', san: ['URI:urn:dev:1', 'DNS:device-1.test'] });
  });

  it('refuses an expired certificate, one from another CA, and none at all', () => {
    const ca = [new X509Certificate(readFileSync(pki.ca))];
    expect(verifyChain([der(pki.expired.cert)], ca, Date.now())).toMatchObject({ ok: false, alert: 'expired' });
    expect(verifyChain([der(stranger.cert)], ca, Date.now())).toMatchObject({
      ok: false,
      alert: 'unknown-ca',
      reason: 'client certificate from an unknown CA',
    });
    expect(verifyChain([], ca, Date.now())).toMatchObject({ ok: false, reason: 'client certificate missing' });
    expect(verifyChain([Buffer.from('not der')], ca, Date.now())).toMatchObject({ ok: false, alert: 'bad' });
  });
});
