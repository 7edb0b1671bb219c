/**
 * AES-CCM (RFC 3610, NIST SP 800-38C) on two long-lived AES contexts per key
 * instead of one node:crypto AEAD object per record: the keystream blocks
 * A1..An (and S0 for the tag) come from one ECB call over the counter blocks,
 * the CBC-MAC from one CBC call over B0, the additional data and the
 * message. A CBC context keeps its last output block as the chaining value
 * of the next call, so each MAC starts by XOR-ing B0 with that block: the
 * same as starting a fresh CBC-MAC from a zero IV (RFC 3610 §2.2), without
 * creating or re-keying anything per record.
 */
import { createCipheriv, timingSafeEqual, type Cipher, type KeyObject } from 'node:crypto';

const BLOCK = 16;

export class AesCcm {
  private readonly ecb: Cipher;
  private readonly cbc: Cipher;
  /** The CBC context's chaining value: the last block of its previous output. */
  private chain: Buffer = Buffer.alloc(BLOCK);
  /** L: bytes of the length field, 15 minus the nonce length (RFC 3610 §2). */
  private readonly lengthBytes: number;
  /** Counter blocks and MAC input, reused record after record (every call is synchronous). */
  private counters: Buffer = Buffer.allocUnsafeSlow(0);
  private macInput: Buffer = Buffer.allocUnsafeSlow(0);
  private readonly expected: Buffer;

  constructor(
    key: Buffer | KeyObject,
    private readonly tagLength: number,
    private readonly nonceLength: number,
  ) {
    if (nonceLength < 7 || nonceLength > 13) throw new RangeError('a CCM nonce is 7 to 13 bytes');
    if (tagLength < 4 || tagLength > 16 || tagLength % 2 !== 0) throw new RangeError('a CCM tag is 4, 6, …, 16 bytes');
    const algorithm = keyBits(key) === 256 ? 'aes-256' : 'aes-128';
    this.ecb = createCipheriv(`${algorithm}-ecb`, key, null).setAutoPadding(false);
    this.cbc = createCipheriv(`${algorithm}-cbc`, key, Buffer.alloc(BLOCK)).setAutoPadding(false);
    this.lengthBytes = 15 - nonceLength;
    this.expected = Buffer.alloc(tagLength);
  }

  /**
   * Encrypts `plaintext` into `out` at `at` followed by the tag
   * (`plaintext.length + tagLength` bytes).
   */
  sealInto(nonce: Buffer, aad: Buffer, plaintext: Buffer, out: Buffer, at: number): void {
    const n = plaintext.length;
    const keystream = this.keystream(nonce, n);
    const mac = this.mac(nonce, aad, plaintext);
    const t = mac.length - BLOCK;
    for (let i = 0; i < n; i++) out[at + i] = plaintext[i]! ^ keystream[BLOCK + i]!;
    for (let i = 0; i < this.tagLength; i++) out[at + n + i] = mac[t + i]! ^ keystream[i]!;
  }

  /** The plaintext, or undefined when the tag does not verify. */
  open(nonce: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer): Buffer | undefined {
    if (tag.length !== this.tagLength) return undefined;
    const n = ciphertext.length;
    const keystream = this.keystream(nonce, n);
    const plain = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) plain[i] = ciphertext[i]! ^ keystream[BLOCK + i]!;
    const mac = this.mac(nonce, aad, plain);
    const t = mac.length - BLOCK;
    const expected = this.expected;
    for (let i = 0; i < this.tagLength; i++) expected[i] = mac[t + i]! ^ keystream[i]!;
    return timingSafeEqual(expected, tag) ? plain : undefined;
  }

  /** S0 followed by S1..Sm: AES of the counter blocks A0..Am (RFC 3610 §2.3). */
  private keystream(nonce: Buffer, length: number): Buffer {
    const size = BLOCK * (1 + Math.ceil(length / BLOCK));
    const a = size <= this.counters.length ? this.counters : scratch(size, (b) => (this.counters = b));
    const L = this.lengthBytes;
    for (let o = 0, b = 0; o < size; o += BLOCK, b++) {
      a[o] = L - 1;
      for (let i = 0; i < this.nonceLength; i++) a[o + 1 + i] = nonce[i]!;
      for (let i = 0, c = b; i < L; i++, c = Math.floor(c / 256)) a[o + BLOCK - 1 - i] = c & 0xff;
    }
    return this.ecb.update(a.subarray(0, size));
  }

  /** CBC-MAC over B0, the encoded additional data and the message, each zero-padded (RFC 3610 §2.2); T is its last block. */
  private mac(nonce: Buffer, aad: Buffer, message: Buffer): Buffer {
    const n = message.length;
    const L = this.lengthBytes;
    if (aad.length >= 0xff00) throw new RangeError('CCM additional data this long is not supported');
    if (n >= 2 ** (8 * L)) throw new RangeError('message too long for the CCM nonce length');
    const aadBlocks = aad.length > 0 ? Math.ceil((2 + aad.length) / BLOCK) : 0;
    const messageAt = BLOCK * (1 + aadBlocks);
    const size = messageAt + BLOCK * Math.ceil(n / BLOCK);
    const input = size <= this.macInput.length ? this.macInput : scratch(size, (b) => (this.macInput = b));
    input[0] = (aad.length > 0 ? 64 : 0) | (((this.tagLength - 2) / 2) << 3) | (L - 1);
    for (let i = 0; i < this.nonceLength; i++) input[1 + i] = nonce[i]!;
    for (let i = 0, c = n; i < L; i++, c = Math.floor(c / 256)) input[BLOCK - 1 - i] = c & 0xff;
    if (aad.length > 0) {
      input[BLOCK] = aad.length >> 8;
      input[BLOCK + 1] = aad.length & 0xff;
      aad.copy(input, BLOCK + 2);
      input.fill(0, BLOCK + 2 + aad.length, messageAt);
    }
    message.copy(input, messageAt);
    input.fill(0, messageAt + n, size);
    // Undo the chaining left by the previous call: the context XORs it into the first block.
    const chain = this.chain;
    for (let i = 0; i < BLOCK; i++) input[i] = input[i]! ^ chain[i]!;
    const out = this.cbc.update(input.subarray(0, size));
    this.chain = out.subarray(out.length - BLOCK);
    return out;
  }
}

/** Scratch kept per context grows in powers of two up to this; a larger record gets a buffer of its own. */
const MAX_KEPT_SCRATCH = 2048;

/**
 * A buffer of at least `size` bytes: kept (through `keep`) when small, so that
 * thousands of associations that once saw a 16 KB record do not each hold
 * 16 KB of scratch.
 */
function scratch(size: number, keep: (b: Buffer) => void): Buffer {
  if (size > MAX_KEPT_SCRATCH) return Buffer.allocUnsafe(size);
  let s = 256;
  while (s < size) s *= 2;
  const b = Buffer.allocUnsafeSlow(s);
  keep(b);
  return b;
}

function keyBits(key: Buffer | KeyObject): number {
  const bytes = Buffer.isBuffer(key) ? key.length : (key.symmetricKeySize ?? 0);
  if (bytes !== 16 && bytes !== 32) throw new RangeError('an AES-CCM key is 16 or 32 bytes');
  return bytes * 8;
}
