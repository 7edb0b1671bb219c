/**
 * The cipher suites thinggate's DTLS server offers and their AEAD record
 * protection (RFC 5246 §6.2.3.3): AES-128-CCM with an 8-byte tag (RFC 6655,
 * RFC 7251) and AES-128-GCM (RFC 5288, RFC 5487). The nonce is the 4-byte
 * implicit salt from the key block followed by the 8-byte explicit part sent
 * in each record, which thinggate sets to the record's epoch and sequence
 * number (RFC 6655 §3); the additional data is epoch, sequence number,
 * content type, version and plaintext length.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { AesCcm } from './ccm.js';
import { prf } from './prf.js';

export type KeyExchange = 'psk' | 'ecdhe_ecdsa';

export interface CipherSuite {
  readonly id: number;
  /** The OpenSSL name, as TLS listeners report theirs. */
  readonly name: string;
  readonly keyExchange: KeyExchange;
  readonly algorithm: 'aes-128-ccm' | 'aes-128-gcm';
  readonly tagLength: 8 | 16;
}

/** In thinggate's order of preference: CCM_8 first, the suites CoAP mandates (RFC 7252 §9.1.3). */
export const SUITES: readonly CipherSuite[] = [
  { id: 0xc0a8, name: 'PSK-AES128-CCM8', keyExchange: 'psk', algorithm: 'aes-128-ccm', tagLength: 8 },
  { id: 0x00a8, name: 'PSK-AES128-GCM-SHA256', keyExchange: 'psk', algorithm: 'aes-128-gcm', tagLength: 16 },
  { id: 0xc0ae, name: 'ECDHE-ECDSA-AES128-CCM8', keyExchange: 'ecdhe_ecdsa', algorithm: 'aes-128-ccm', tagLength: 8 },
  { id: 0xc02b, name: 'ECDHE-ECDSA-AES128-GCM-SHA256', keyExchange: 'ecdhe_ecdsa', algorithm: 'aes-128-gcm', tagLength: 16 },
];

const KEY_LENGTH = 16;
const SALT_LENGTH = 4;
const EXPLICIT_NONCE = 8;

/**
 * The AEAD keys of one direction. CCM runs on long-lived AES contexts
 * (ccm.ts); GCM creates one node:crypto object per record from a key object
 * made once. Nonce and additional data are assembled in buffers of their own,
 * reused record after record (every use is synchronous and copies them).
 */
export class RecordCipher {
  private readonly ccm?: AesCcm;
  private readonly keyObject: KeyObject;
  private readonly nonce = Buffer.alloc(SALT_LENGTH + EXPLICIT_NONCE);
  private readonly aad = Buffer.alloc(13);

  constructor(
    private readonly suite: CipherSuite,
    key: Buffer,
    salt: Buffer,
  ) {
    this.keyObject = createSecretKey(key);
    salt.copy(this.nonce, 0);
    if (suite.algorithm === 'aes-128-ccm') this.ccm = new AesCcm(this.keyObject, suite.tagLength, SALT_LENGTH + EXPLICIT_NONCE);
  }

  /** Bytes a sealed fragment adds to its plaintext: explicit nonce and tag. */
  get overhead(): number {
    return EXPLICIT_NONCE + this.suite.tagLength;
  }

  /** The record fragment: explicit nonce, ciphertext and tag. `seqNum` is epoch (2 bytes) and sequence number (6 bytes). */
  seal(seqNum: Buffer, type: number, version: number, plaintext: Buffer): Buffer {
    const out = Buffer.allocUnsafe(this.overhead + plaintext.length);
    this.sealInto(seqNum, type, version, plaintext, out, 0);
    return out;
  }

  /** Writes the sealed fragment of `plaintext` into `out` at `at` (`overhead + plaintext.length` bytes). */
  sealInto(seqNum: Buffer, type: number, version: number, plaintext: Buffer, out: Buffer, at: number): void {
    seqNum.copy(out, at, 0, EXPLICIT_NONCE);
    seqNum.copy(this.nonce, SALT_LENGTH, 0, EXPLICIT_NONCE);
    const aad = this.additionalData(seqNum, type, version, plaintext.length);
    const body = at + EXPLICIT_NONCE;
    if (this.ccm) return this.ccm.sealInto(this.nonce, aad, plaintext, out, body);
    const c = createCipheriv('aes-128-gcm', this.keyObject, this.nonce);
    c.setAAD(aad);
    const n = c.update(plaintext).copy(out, body);
    c.final().copy(out, body + n);
    c.getAuthTag().copy(out, body + plaintext.length);
  }

  /** The plaintext, or undefined when the fragment does not authenticate (RFC 6347 §4.1.2.7: silently discarded). */
  open(seqNum: Buffer, type: number, version: number, fragment: Buffer): Buffer | undefined {
    const tagLength = this.suite.tagLength;
    if (fragment.length < EXPLICIT_NONCE + tagLength) return undefined;
    fragment.copy(this.nonce, SALT_LENGTH, 0, EXPLICIT_NONCE);
    const ciphertext = fragment.subarray(EXPLICIT_NONCE, fragment.length - tagLength);
    const tag = fragment.subarray(fragment.length - tagLength);
    const aad = this.additionalData(seqNum, type, version, ciphertext.length);
    if (this.ccm) return this.ccm.open(this.nonce, aad, ciphertext, tag);
    try {
      const d = createDecipheriv('aes-128-gcm', this.keyObject, this.nonce);
      d.setAuthTag(tag);
      d.setAAD(aad);
      return Buffer.concat([d.update(ciphertext), d.final()]);
    } catch {
      return undefined;
    }
  }

  private additionalData(seqNum: Buffer, type: number, version: number, length: number): Buffer {
    const b = this.aad;
    seqNum.copy(b, 0, 0, 8);
    b[8] = type;
    b.writeUInt16BE(version, 9);
    b.writeUInt16BE(length, 11);
    return b;
  }
}

/** The key block of RFC 5246 §6.3 for an AEAD suite: no MAC keys, two 16-byte keys and two 4-byte salts. */
export function deriveCiphers(suite: CipherSuite, master: Buffer, clientRandom: Buffer, serverRandom: Buffer): { client: RecordCipher; server: RecordCipher } {
  const kb = prf(master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 2 * (KEY_LENGTH + SALT_LENGTH));
  const clientKey = kb.subarray(0, KEY_LENGTH);
  const serverKey = kb.subarray(KEY_LENGTH, 2 * KEY_LENGTH);
  const clientSalt = kb.subarray(2 * KEY_LENGTH, 2 * KEY_LENGTH + SALT_LENGTH);
  const serverSalt = kb.subarray(2 * KEY_LENGTH + SALT_LENGTH);
  return { client: new RecordCipher(suite, clientKey, clientSalt), server: new RecordCipher(suite, serverKey, serverSalt) };
}
