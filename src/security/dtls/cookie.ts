/**
 * Stateless HelloVerifyRequest cookies (RFC 6347 §4.2.1): an HMAC of the
 * client's address and port and the ClientHello's parameters under a secret
 * that rotates; a cookie made under the current or the previous secret is
 * accepted. The server keeps no state for a ClientHello until it comes back
 * with a valid cookie, so spoofed sources cost nothing but one HMAC.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ClientHello } from './hello.js';

const COOKIE_LENGTH = 16;

export class CookieJar {
  private current = randomBytes(32);
  private previous = randomBytes(32);
  private rotatedAt: number;

  constructor(
    private readonly rotateMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.rotatedAt = now();
  }

  make(address: string, port: number, hello: ClientHello): Buffer {
    this.rotate();
    return this.mac(this.current, address, port, hello);
  }

  verify(address: string, port: number, hello: ClientHello): boolean {
    this.rotate();
    const c = hello.cookie;
    if (c.length !== COOKIE_LENGTH) return false;
    return timingSafeEqual(c, this.mac(this.current, address, port, hello)) || timingSafeEqual(c, this.mac(this.previous, address, port, hello));
  }

  private rotate(): void {
    const now = this.now();
    if (now - this.rotatedAt < this.rotateMs) return;
    // Long idle: both secrets are stale.
    this.previous = now - this.rotatedAt >= 2 * this.rotateMs ? randomBytes(32) : this.current;
    this.current = randomBytes(32);
    this.rotatedAt = now;
  }

  private mac(secret: Buffer, address: string, port: number, h: ClientHello): Buffer {
    return createHmac('sha256', secret)
      .update(`${address}|${port}|`)
      .update(h.random)
      .update(h.sessionId)
      .update(h.suitesRaw)
      .update(h.compressionsRaw)
      .digest()
      .subarray(0, COOKIE_LENGTH);
  }
}
