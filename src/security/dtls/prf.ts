/**
 * The TLS 1.2 pseudo-random function with SHA-256 (RFC 5246 §5), and the
 * secrets derived from it: master secret (§8.1, or the extended master
 * secret of RFC 7627 §4), key block (§6.3) and Finished verify_data (§7.4.9).
 */
import { createHash, createHmac } from 'node:crypto';

function hmac(key: Buffer, data: Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** P_SHA256(secret, seed) cut to `length` bytes (RFC 5246 §5). */
function pSha256(secret: Buffer, seed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  let total = 0;
  let a = seed;
  while (total < length) {
    a = hmac(secret, a);
    const block = hmac(secret, Buffer.concat([a, seed]));
    out.push(block);
    total += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** PRF(secret, label, seed) = P_SHA256(secret, label + seed). */
export function prf(secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  return pSha256(secret, Buffer.concat([Buffer.from(label, 'latin1'), seed]), length);
}

export function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/** RFC 5246 §8.1; with `sessionHash`, the extended master secret of RFC 7627 §4. */
export function masterSecret(preMaster: Buffer, clientRandom: Buffer, serverRandom: Buffer, sessionHash?: Buffer): Buffer {
  if (sessionHash) return prf(preMaster, 'extended master secret', sessionHash, 48);
  return prf(preMaster, 'master secret', Buffer.concat([clientRandom, serverRandom]), 48);
}

/** verify_data of a Finished message: 12 bytes of PRF over the transcript hash (RFC 5246 §7.4.9). */
export function finishedData(master: Buffer, sender: 'client' | 'server', transcriptHash: Buffer): Buffer {
  return prf(master, `${sender} finished`, transcriptHash, 12);
}

/** The PSK pre-master secret of RFC 4279 §2: N zero bytes and the N-byte key, each with its uint16 length. */
export function pskPreMaster(psk: Buffer): Buffer {
  const n = psk.length;
  const b = Buffer.alloc(4 + 2 * n);
  b.writeUInt16BE(n, 0);
  b.writeUInt16BE(n, 2 + n);
  psk.copy(b, 4 + n);
  return b;
}
