import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { JwtAuthenticator } from '../../../src/security/jwt.js';
import { authenticatorContract } from './authenticator-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'tg-jwt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const base = { protocol: 'mqtt', listener: 'l', clientId: 'c', remoteAddress: '127.0.0.1' } as const;

const secretFile = join(dir, 'hs.key');
writeFileSync(secretFile, 'a-shared-secret-of-at-least-32-bytes!!\n');
const hs = new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!');
const options = {
  algorithms: ['HS256'] as const,
  audience: 'thinggate',
  issuer: 'idp',
  clockSkewSeconds: 5,
  principalClaim: 'sub',
  groupsClaim: 'groups',
  attributes: { tenant: 'ten' },
};
const hsAuth = () => new JwtAuthenticator({ ...options, keyFile: secretFile });

async function token(claims: Record<string, unknown> = {}, opts: { exp?: string | number; aud?: string; key?: Uint8Array } = {}): Promise<string> {
  return new SignJWT({ groups: ['sensors'], ten: 'acme', ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('dev-1')
    .setIssuer('idp')
    .setAudience(opts.aud ?? 'thinggate')
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? '5m')
    .sign(opts.key ?? hs);
}

const good = await token();
const forged = await token({}, { key: new TextEncoder().encode('another-secret-another-secret-another') });

authenticatorContract('jwt', {
  make: hsAuth,
  valid: { ...base, username: 'ignored', password: Buffer.from(good) },
  principal: 'dev-1',
  wrong: { ...base, password: Buffer.from(forged) },
  secret: forged,
});

describe('jwt authenticator', () => {
  it('maps claims to groups and attributes, from a bearer token too', async () => {
    const r = await hsAuth().authenticate({ ...base, token: good });
    expect(r).toMatchObject({ kind: 'allow', identity: { principal: 'dev-1', method: 'token', groups: ['sensors'], attributes: { tenant: 'acme' } } });
  });

  it('denies an expired token, a wrong audience and a wrong key', async () => {
    const a = hsAuth();
    const expired = await token({}, { exp: Math.floor(Date.now() / 1000) - 60 });
    expect(await a.authenticate({ ...base, token: expired })).toMatchObject({ kind: 'deny', status: 401, reason: expect.stringContaining('ERR_JWT_EXPIRED') });
    expect(await a.authenticate({ ...base, token: await token({}, { aud: 'other' }) })).toMatchObject({
      kind: 'deny',
      reason: expect.stringContaining('ERR_JWT_CLAIM_VALIDATION_FAILED'),
    });
    expect(await a.authenticate({ ...base, token: forged })).toMatchObject({ kind: 'deny', reason: expect.stringContaining('SIGNATURE') });
  });

  it('attaches the rules of aclClaim; a token with an unreadable claim is refused (403), one without it admitted without rules', async () => {
    const a = new JwtAuthenticator({ ...options, keyFile: secretFile, aclClaim: 'acl' });
    const acl = [{ allow: ['publish'], address: 'own/{principal}/#' }];
    expect(await a.authenticate({ ...base, token: await token({ acl }) })).toMatchObject({ kind: 'allow', acl });
    expect(await a.authenticate({ ...base, token: await token({ acl: 'allow everything' }) })).toMatchObject({ kind: 'deny', status: 403 });
    const plain = await a.authenticate({ ...base, token: good });
    expect(plain.kind).toBe('allow');
    expect(plain).not.toHaveProperty('acl');
  });

  it('passes a password that is not a JWT to the next step', async () => {
    expect(await hsAuth().authenticate({ ...base, username: 'u', password: Buffer.from('plain') })).toEqual({ kind: 'next' });
  });

  for (const [alg, type, opts] of [
    ['RS256', 'rsa', { modulusLength: 2048 }],
    ['ES256', 'ec', { namedCurve: 'P-256' }],
    ['EdDSA', 'ed25519', {}],
  ] as const) {
    it(`verifies ${alg} with a PEM public key`, async () => {
      const { publicKey, privateKey } = generateKeyPairSync(type as 'rsa', opts as { modulusLength: number });
      const file = join(dir, `${alg}.pem`);
      writeFileSync(file, publicKey.export({ type: 'spki', format: 'pem' }));
      const a = new JwtAuthenticator({ ...options, algorithms: [alg], keyFile: file });
      const t = await new SignJWT({})
        .setProtectedHeader({ alg })
        .setSubject('dev-2')
        .setIssuer('idp')
        .setAudience('thinggate')
        .setExpirationTime('1m')
        .sign(privateKey);
      expect(await a.authenticate({ ...base, token: t })).toMatchObject({ kind: 'allow', identity: { principal: 'dev-2' } });
      // A token signed for the HMAC algorithm with the public key as secret (algorithm confusion) is refused.
      const confused = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('x')
        .setIssuer('idp')
        .setAudience('thinggate')
        .setExpirationTime('1m')
        .sign(new TextEncoder().encode(publicKey.export({ type: 'spki', format: 'pem' }).toString()));
      expect((await a.authenticate({ ...base, token: confused })).kind).toBe('deny');
    });
  }
});
