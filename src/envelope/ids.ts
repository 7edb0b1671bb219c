import { randomBytes } from 'node:crypto';

/**
 * Envelope ids: 10 characters of millisecond time (base32 Crockford, like a
 * ULID), 6 characters of a per-process counter, then 6 random characters fixed
 * per process. Lexicographic order follows creation order within a process,
 * and ids from different processes do not collide.
 */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function encode(value: number, width: number): string {
  let out = '';
  for (let i = 0; i < width; i++) {
    out = ALPHABET[value % 32] + out;
    value = Math.floor(value / 32);
  }
  return out;
}

const processSuffix = (() => {
  const bytes = randomBytes(6);
  let s = '';
  for (const b of bytes) s += ALPHABET[b % 32];
  return s;
})();

let lastMs = 0;
let counter = 0;
let lastPrefix = '';

/** A new unique, time-sortable id. */
export function newId(now: number = Date.now()): string {
  // A clock that steps back keeps the last prefix, so ids never repeat.
  if (now > lastMs) {
    lastMs = now;
    counter = 0;
    lastPrefix = encode(now, 10);
  } else {
    counter++;
  }
  return lastPrefix + encode(counter, 6) + processSuffix;
}
