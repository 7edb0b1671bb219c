import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prf, pskPreMaster } from '../../../../src/security/dtls/prf.js';
import { SUITES, deriveCiphers } from '../../../../src/security/dtls/cipher.js';
import { seqNumOf } from '../../../../src/security/dtls/record.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('TLS 1.2 PRF (SHA-256)', () => {
  it('matches the published P_SHA256 known-answer vector', () => {
    // The TLS 1.2 PRF test vector circulated on the IETF TLS list (P_SHA256, "test label", 100 bytes).
    const out = prf(hex('9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35'), 'test label', hex('a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c'), 100);
    expect(out.toString('hex')).toBe(
      'e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66',
    );
  });

  it('builds the PSK pre-master secret of RFC 4279 §2', () => {
    expect(pskPreMaster(Buffer.from('ab')).toString('hex')).toBe('000200000002' + '6162');
  });
});

describe('AES-128-CCM with an 8-byte tag', () => {
  it('reproduces RFC 3610 packet vector #1 (M = 8) on node:crypto', () => {
    const c = createCipheriv('aes-128-ccm', hex('c0c1c2c3c4c5c6c7c8c9cacbcccdcecf'), hex('00000003020100a0a1a2a3a4a5'), { authTagLength: 8 });
    const plain = hex('08090a0b0c0d0e0f101112131415161718191a1b1c1d1e');
    c.setAAD(hex('0001020304050607'), { plaintextLength: plain.length });
    const out = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
    expect(out.toString('hex')).toBe('588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0');
  });

  for (const suite of SUITES) {
    it(`${suite.name}: seals and opens a record, and refuses a tampered one`, () => {
      const keys = deriveCiphers(suite, Buffer.alloc(48, 7), Buffer.alloc(32, 1), Buffer.alloc(32, 2));
      const seq = seqNumOf(1, 5);
      const sealed = keys.server.seal(seq, 23, 0xfefd, Buffer.from('coap'));
      expect(sealed.length).toBe(8 + 4 + suite.tagLength);
      // The client side holds the server's write key under the same derivation.
      const reader = deriveCiphers(suite, Buffer.alloc(48, 7), Buffer.alloc(32, 1), Buffer.alloc(32, 2)).server;
      expect(reader.open(seq, 23, 0xfefd, sealed)?.toString()).toBe('coap');
      const bad = Buffer.from(sealed);
      bad[bad.length - 1]! ^= 1;
      expect(reader.open(seq, 23, 0xfefd, bad)).toBeUndefined();
      // The additional data binds the content type.
      expect(reader.open(seq, 22, 0xfefd, sealed)).toBeUndefined();
      expect(keys.client.open(seq, 23, 0xfefd, sealed)).toBeUndefined();
    });
  }
});
