/**
 * The contract every Authenticator passes (built-ins and plugins alike):
 * each implementation's test file calls `authenticatorContract` with a way
 * to build one and the credentials it accepts.
 */
import { describe, expect, it } from 'vitest';
import type { ClientInfo } from '../../../src/envelope/index.js';
import type { Authenticator } from '../../../src/security/authenticator.js';

export interface ContractCase {
  readonly make: () => Authenticator;
  /** A client this authenticator admits, and the principal it must name. */
  readonly valid: ClientInfo;
  readonly principal: string;
  /** A client presenting credentials of this kind that are wrong. */
  readonly wrong: ClientInfo;
  /** The secret in `wrong`, which no reason may quote. */
  readonly secret: string;
}

const BASE: ClientInfo = { protocol: 'mqtt', listener: 'l', clientId: 'c1', remoteAddress: '127.0.0.1' };

export function authenticatorContract(name: string, c: ContractCase): void {
  describe(`Authenticator contract: ${name}`, () => {
    it('allows valid credentials with a frozen identity { principal, method, attributes, groups }', async () => {
      const r = await c.make().authenticate(c.valid);
      expect(r.kind).toBe('allow');
      if (r.kind !== 'allow') return;
      expect(r.identity.principal).toBe(c.principal);
      expect(typeof r.identity.method).toBe('string');
      expect(Object.isFrozen(r.identity)).toBe(true);
      expect(Array.isArray(r.identity.groups)).toBe(true);
      expect(typeof r.identity.attributes).toBe('object');
    });

    it('denies wrong credentials without quoting the secret', async () => {
      const r = await c.make().authenticate(c.wrong);
      expect(r.kind).toBe('deny');
      if (r.kind === 'deny') {
        expect([401, 403]).toContain(r.status);
        expect(r.reason).not.toContain(c.secret);
      }
    });

    it('passes a client with no credentials to the next step', async () => {
      expect(await c.make().authenticate(BASE)).toEqual({ kind: 'next' });
    });

    it('never throws on hostile input', async () => {
      const a = c.make();
      const hostile: ClientInfo[] = [
        { ...BASE, username: '', password: Buffer.alloc(0) },
        { ...BASE, username: '\u0000', password: Buffer.from([0xff, 0xfe, 0x00]) },
        { ...BASE, username: 'x'.repeat(70000), password: Buffer.alloc(70000, 0x2e) },
        { ...BASE, token: 'a.b.c' },
        { ...BASE, tls: { version: 'TLSv1.3', cipher: 'x', resumed: false, authorized: false, peerVerified: false, peerFingerprint256: 'zz' } },
      ];
      for (const h of hostile) {
        const r = await a.authenticate(h);
        expect(['allow', 'deny', 'next']).toContain(r.kind);
        if (r.kind === 'allow') expect(r.identity.principal.length).toBeGreaterThan(0);
      }
      a.close?.();
    });
  });
}
