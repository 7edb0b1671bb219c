import { describe, expect, it } from 'vitest';
import { X509Authenticator } from '../../../src/security/x509.js';
import { authenticatorContract } from './authenticator-contract.js';

const FP = 'AB:CD:'.repeat(15) + 'AB:CD';
const tls = {
  version: 'TLSv1.3',
  cipher: 'TLS_AES_128_GCM_SHA256',
  resumed: false,
  authorized: true,
  peerVerified: true,
  peerFingerprint256: FP,
  peerCommonName: 'dev-7',
  peerAltNames: 'DNS:dev-7.example, URI:urn:dev:7',
};
const base = { protocol: 'mqtt', listener: 'l', clientId: 'c', remoteAddress: '127.0.0.1' } as const;

authenticatorContract('x509', {
  make: () => new X509Authenticator({ principalFrom: 'cn', fingerprints: [FP.toLowerCase()], groups: ['devices'] }),
  valid: { ...base, tls },
  principal: 'dev-7',
  wrong: { ...base, tls: { ...tls, peerFingerprint256: '00:11:'.repeat(15) + '00:11' } },
  secret: '00:11:00:11:00:11',
});

describe('x509 authenticator', () => {
  it('takes the principal from a SAN when configured', () => {
    const r = new X509Authenticator({ principalFrom: 'uri', fingerprints: [], groups: [] }).authenticate({ ...base, tls });
    expect(r).toMatchObject({ kind: 'allow', identity: { principal: 'urn:dev:7', method: 'certificate' } });
  });

  it('passes a certificate the handshake did not verify', () => {
    expect(
      new X509Authenticator({ principalFrom: 'cn', fingerprints: [], groups: [] }).authenticate({ ...base, tls: { ...tls, peerVerified: false } }),
    ).toEqual({ kind: 'next' });
  });
});
