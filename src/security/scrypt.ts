/**
 * Password hashes in the credentials file: `scrypt$N$r$p$SALT$HASH` (salt
 * and hash base64), made with node:crypto's scrypt. Verification is
 * constant-time in the hash comparison.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const scrypt = (password: Buffer | string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> =>
  new Promise((resolve, reject) => scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));

/** Cost parameters written by `thinggate passwd` (OWASP's scrypt minimum: N=2^17, r=8, p=1). */
export const DEFAULT_SCRYPT = Object.freeze({ N: 131072, r: 8, p: 1 });
const KEY_BYTES = 32;

export interface ScryptHash {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/** Parses a stored hash; undefined when it is not in the `scrypt$...` form. */
export function parseScryptHash(text: string): ScryptHash | undefined {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(text);
  if (!m) return undefined;
  const N = Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  // N a power of two above 1 (RFC 7914 §2); bounds keep a hostile file from asking for gigabytes.
  if (N < 2 || N > 2 ** 20 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return undefined;
  const hash = Buffer.from(m[5]!, 'base64');
  if (hash.length < 16) return undefined;
  return { N, r, p, salt: Buffer.from(m[4]!, 'base64'), hash };
}

function options(h: { N: number; r: number; p: number }): ScryptOptions {
  return { N: h.N, r: h.r, p: h.p, maxmem: 256 * h.N * h.r + 1024 * 1024 };
}

export async function hashPassword(password: Buffer | string, cost: { N: number; r: number; p: number } = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, KEY_BYTES, options(cost));
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: Buffer, stored: ScryptHash): Promise<boolean> {
  const key = await scrypt(password, stored.salt, stored.hash.length, options(stored));
  return timingSafeEqual(key, stored.hash);
}
