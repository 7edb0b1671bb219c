import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commonName, peerFacts, verifyChain } from '../../../../src/security/dtls/cert.js';
import { parseCrl, serialKey } from '../../../../src/security/dtls/crl.js';
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

  it('reads a CRL (PEM and DER), checks who signed it, and refuses what it revokes', () => {
    const ca = [new X509Certificate(readFileSync(pki.ca))];
    const pem = readFileSync(pki.crl);
    const crl = parseCrl(pem, ca);
    expect(crl.issuer).toBe(ca[0]);
    const revokedSerial = new X509Certificate(readFileSync(pki.revoked.cert)).serialNumber;
    expect(crl.revoked.has(serialKey(revokedSerial))).toBe(true);
    expect(crl.revoked.has(serialKey(new X509Certificate(readFileSync(pki.client.cert)).serialNumber))).toBe(false);
    // The same CRL in DER.
    const b64 = /-----BEGIN X509 CRL-----([\s\S]+?)-----END/.exec(pem.toString())![1]!.replace(/\s+/g, '');
    expect(parseCrl(Buffer.from(b64, 'base64'), ca).revoked).toEqual(crl.revoked);
    // Signed by none of the configured CAs, or not a CRL at all.
    expect(() => parseCrl(pem, [new X509Certificate(readFileSync(stranger.cert))])).toThrow(/not signed by any CA/);
    expect(() => parseCrl(Buffer.from('not a crl'), ca)).toThrow();
    expect(verifyChain([der(pki.revoked.cert)], ca, Date.now(), [crl])).toMatchObject({ ok: false, alert: 'revoked', reason: 'client certificate revoked' });
    expect(verifyChain([der(pki.client.cert)], ca, Date.now(), [crl]).ok).toBe(true);
    // With CRLs configured, an issuer that has none is refused (as OpenSSL's CRL check does).
    const otherCrl = { issuer: new X509Certificate(readFileSync(stranger.cert)), revoked: new Set<string>() };
    expect(verifyChain([der(pki.client.cert)], ca, Date.now(), [otherCrl])).toMatchObject({ ok: false, reason: "no CRL for the client certificate's issuer" });
  });

  it('normalizes serial numbers: case and leading zeros do not matter', () => {
    expect(serialKey('00ab')).toBe('AB');
    expect(serialKey('0')).toBe('0');
    expect(serialKey('1000')).toBe('1000');
  });
});
