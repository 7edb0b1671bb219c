import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AesCcm } from '../../../../src/security/dtls/ccm.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** node:crypto's one-shot AES-CCM, the reference the long-lived implementation must match byte for byte. */
function reference(key: Buffer, nonce: Buffer, aad: Buffer, plain: Buffer, tagLength: number): Buffer {
  const c = createCipheriv(`aes-${key.length * 8}-ccm` as 'aes-128-ccm', key, nonce, { authTagLength: tagLength });
  c.setAAD(aad, { plaintextLength: plain.length });
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

function seal(ccm: AesCcm, nonce: Buffer, aad: Buffer, plain: Buffer, tagLength: number): Buffer {
  const out = Buffer.alloc(plain.length + tagLength);
  ccm.sealInto(nonce, aad, plain, out, 0);
  return out;
}

describe('AES-CCM on long-lived AES contexts (RFC 3610)', () => {
  // RFC 3610 §8, packet vectors #1 (M = 8) and #4 (M = 8, 12 bytes of additional data) and #13 (key D7 82…).
  const vectors = [
    {
      name: 'packet vector #1',
      key: 'c0c1c2c3c4c5c6c7c8c9cacbcccdcecf',
      nonce: '00000003020100a0a1a2a3a4a5',
      aad: '0001020304050607',
      plain: '08090a0b0c0d0e0f101112131415161718191a1b1c1d1e',
      out: '588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0',
    },
    {
      name: 'packet vector #4',
      key: 'c0c1c2c3c4c5c6c7c8c9cacbcccdcecf',
      nonce: '00000006050403a0a1a2a3a4a5',
      aad: '000102030405060708090a0b',
      plain: '0c0d0e0f101112131415161718191a1b1c1d1e',
      out: 'a28c6865939a9a79faaa5c4c2a9d4a91cdac8c96c861b9c9e61ef1',
    },
    {
      name: 'packet vector #13',
      key: 'd7828d13b2b0bdc325a76236df93cc6b',
      nonce: '00412b4ea9cdbe3c9696766cfa',
      aad: '0be1a88bace018b1',
      plain: '08e8cf97d820ea258460e96ad9cf5289054d895ceac47c',
      out: '4cb97f86a2a4689a877947ab8091ef5386a6ffbdd080f8e78cf7cb0cddd7b3',
    },
  ];
  for (const v of vectors) {
    it(`reproduces ${v.name} and opens it`, () => {
      const ccm = new AesCcm(hex(v.key), 8, 13);
      const out = seal(ccm, hex(v.nonce), hex(v.aad), hex(v.plain), 8);
      expect(out.toString('hex')).toBe(v.out);
      const opened = ccm.open(hex(v.nonce), hex(v.aad), out.subarray(0, -8), out.subarray(-8));
      expect(opened?.toString('hex')).toBe(v.plain);
    });
  }

  it('matches node:crypto record after record on one context (12-byte nonce, 8- and 16-byte tags, 1 to 300 bytes)', () => {
    for (const tagLength of [8, 16]) {
      const key = randomBytes(16);
      const ccm = new AesCcm(key, tagLength, 12);
      const peer = new AesCcm(key, tagLength, 12);
      for (let n = 1; n <= 300; n += 7) {
        const nonce = randomBytes(12);
        const aad = randomBytes(13);
        const plain = randomBytes(n);
        const sealed = seal(ccm, nonce, aad, plain, tagLength);
        expect(sealed.equals(reference(key, nonce, aad, plain, tagLength))).toBe(true);
        expect(peer.open(nonce, aad, sealed.subarray(0, n), sealed.subarray(n))?.equals(plain)).toBe(true);
      }
    }
  });

  it('matches node:crypto on records larger than the scratch it keeps, and on small ones after them', () => {
    const key = randomBytes(16);
    const ccm = new AesCcm(key, 8, 12);
    for (const n of [16_000, 2_100, 40, 16_384]) {
      const nonce = randomBytes(12);
      const aad = randomBytes(13);
      const plain = randomBytes(n);
      const sealed = seal(ccm, nonce, aad, plain, 8);
      expect(sealed.equals(reference(key, nonce, aad, plain, 8))).toBe(true);
      expect(ccm.open(nonce, aad, sealed.subarray(0, n), sealed.subarray(n))?.equals(plain)).toBe(true);
    }
  });

  it('refuses a record whose ciphertext, tag, nonce or additional data changed, and goes on working after', () => {
    const key = randomBytes(16);
    const ccm = new AesCcm(key, 8, 12);
    const nonce = randomBytes(12);
    const aad = randomBytes(13);
    const plain = Buffer.from('a CoAP message of some length, over one block');
    const sealed = seal(ccm, nonce, aad, plain, 8);
    const body = sealed.subarray(0, plain.length);
    const tag = sealed.subarray(plain.length);
    const flip = (b: Buffer, i: number): Buffer => {
      const c = Buffer.from(b);
      c[i]! ^= 1;
      return c;
    };
    expect(ccm.open(nonce, aad, flip(body, 3), tag)).toBeUndefined();
    expect(ccm.open(nonce, aad, body, flip(tag, 7))).toBeUndefined();
    expect(ccm.open(flip(nonce, 11), aad, body, tag)).toBeUndefined();
    expect(ccm.open(nonce, flip(aad, 8), body, tag)).toBeUndefined();
    expect(ccm.open(nonce, aad, body, tag.subarray(1))).toBeUndefined();
    expect(ccm.open(nonce, aad, body, tag)?.equals(plain)).toBe(true);
  });

  it('seals and opens an empty message (an empty record is legal, RFC 5246 §6.2.1)', () => {
    const key = randomBytes(16);
    const ccm = new AesCcm(key, 8, 12);
    const nonce = randomBytes(12);
    const aad = randomBytes(13);
    const sealed = seal(ccm, nonce, aad, Buffer.alloc(0), 8);
    expect(ccm.open(nonce, aad, Buffer.alloc(0), sealed)?.length).toBe(0);
    expect(ccm.open(nonce, randomBytes(13), Buffer.alloc(0), sealed)).toBeUndefined();
  });

  it('refuses lengths CCM does not define', () => {
    expect(() => new AesCcm(randomBytes(16), 8, 14)).toThrow(RangeError);
    expect(() => new AesCcm(randomBytes(16), 7, 12)).toThrow(RangeError);
    expect(() => new AesCcm(randomBytes(24), 8, 12)).toThrow(RangeError);
  });
});
