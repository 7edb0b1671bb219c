/**
 * The jwt authenticator with keys from a JSON Web Key Set served by a real
 * local HTTP server: the set is cached, a token naming a key the set does
 * not hold refetches it (key rotation), at most once per cooldown, and a key
 * set that cannot be had denies with 503.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { JwtAuthenticator, type JwtAuthOptions } from '../../../src/security/jwt.js';
import type { UpstreamResult } from '../../../src/balancer/types.js';
import { authenticatorContract } from './authenticator-contract.js';

interface Key {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

async function newKey(kid: string): Promise<Key> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

/** The key set server: serves `served` at /.well-known/jwks.json and counts fetches; `status` simulates failures. */
const state = { served: [] as Key[], fetches: 0, status: 200 };
let server: Server;
let base: string;
const [k1, k2] = await Promise.all([newKey('k1'), newKey('k2')]);

beforeAll(async () => {
  server = createServer((req, res) => {
    state.fetches++;
    if (req.url !== '/.well-known/jwks.json' || state.status !== 200) {
      res.writeHead(req.url === '/.well-known/jwks.json' ? state.status : 404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.served.map((k) => k.jwk) }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const client = { protocol: 'mqtt', listener: 'l', clientId: 'c', remoteAddress: '127.0.0.1' } as const;

function sign(key: Key, sub: string, kid = key.kid): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid }).setSubject(sub).setAudience('tg').setExpirationTime('5m').sign(key.privateKey);
}

function options(jwks: Partial<NonNullable<JwtAuthOptions['jwks']>>): JwtAuthOptions {
  return {
    algorithms: ['ES256'],
    audience: 'tg',
    clockSkewSeconds: 0,
    principalClaim: 'sub',
    attributes: {},
    jwks: { url: `${base}/.well-known/jwks.json`, path: '/.well-known/jwks.json', cacheMaxAgeMs: 600_000, cooldownMs: 0, timeoutMs: 2000, ...jwks },
  };
}

state.served = [k1];
const tokens = { valid: await sign(k1, 'dev-1'), forged: await sign(k2, 'dev-1', 'k1') /* claims k1, signed with k2 */ };

authenticatorContract('jwt (JWKS URL)', {
  make: () => new JwtAuthenticator(options({})),
  valid: { ...client, token: tokens.valid },
  principal: 'dev-1',
  wrong: { ...client, token: tokens.forged },
  secret: tokens.forged,
});

describe('jwt with a JWKS URL', () => {
  it('fetches the set once and verifies later tokens from the cache', async () => {
    state.served = [k1];
    state.fetches = 0;
    const a = new JwtAuthenticator(options({}));
    expect(await a.authenticate({ ...client, token: tokens.valid })).toMatchObject({ kind: 'allow', identity: { principal: 'dev-1', method: 'token' } });
    expect(await a.authenticate({ ...client, token: await sign(k1, 'dev-2') })).toMatchObject({ kind: 'allow', identity: { principal: 'dev-2' } });
    expect(state.fetches).toBe(1);
    expect(await a.authenticate({ ...client, token: tokens.forged })).toMatchObject({ kind: 'deny', status: 401 });
  });

  it('follows a key rotation: a token naming a new kid refetches the set', async () => {
    state.served = [k1];
    state.fetches = 0;
    const a = new JwtAuthenticator(options({ cooldownMs: 0 }));
    expect((await a.authenticate({ ...client, token: tokens.valid })).kind).toBe('allow');
    state.served = [k2]; // the issuer rotates: k1 retired, k2 published
    expect(await a.authenticate({ ...client, token: await sign(k2, 'dev-3') })).toMatchObject({ kind: 'allow', identity: { principal: 'dev-3' } });
    expect(state.fetches).toBe(2);
    // A token of the retired key: the refetched set no longer holds it.
    expect(await a.authenticate({ ...client, token: await sign(k1, 'dev-1') })).toMatchObject({ kind: 'deny', status: 401 });
  });

  it('bounds refetches: unknown key ids within the cooldown cost no fetch', async () => {
    state.served = [k1];
    state.fetches = 0;
    const a = new JwtAuthenticator(options({ cooldownMs: 60_000 }));
    expect((await a.authenticate({ ...client, token: tokens.valid })).kind).toBe('allow');
    const made = await Promise.all(Array.from({ length: 20 }, (_, i) => sign(k2, 'x', `made-up-${i}`)));
    const results = await Promise.all(made.map((token) => a.authenticate({ ...client, token })));
    expect(results.every((r) => r.kind === 'deny' && r.status === 401)).toBe(true);
    expect(state.fetches).toBe(1);
  });

  it('a key set that cannot be fetched denies with 503, not 401, and names no token', async () => {
    state.status = 500;
    try {
      const r = await new JwtAuthenticator(options({})).authenticate({ ...client, token: tokens.valid });
      expect(r).toEqual({ kind: 'deny', status: 503, reason: 'token keys unavailable' });
    } finally {
      state.status = 200;
    }
    const down = new JwtAuthenticator(options({ url: 'http://127.0.0.1:1/.well-known/jwks.json' }));
    expect(await down.authenticate({ ...client, token: tokens.valid })).toMatchObject({ kind: 'deny', status: 503 });
  });

  it('fetches through a pool: the request goes to the dispatch with the configured path', async () => {
    state.served = [k1];
    const seen: string[] = [];
    const dispatch = async (req: { pool: string; path: string; method: string }): Promise<UpstreamResult> => {
      seen.push(`${req.method} ${req.pool} ${req.path}`);
      const res = await fetch(`${base}${req.path}`);
      return { kind: 'response', status: res.status, headers: {}, body: Buffer.from(await res.arrayBuffer()), endpoint: base, attempts: 1 };
    };
    const { url: _url, ...viaPool } = options({ pool: 'idp' }).jwks!;
    const a = new JwtAuthenticator({ ...options({}), jwks: viaPool }, dispatch);
    expect(await a.authenticate({ ...client, token: tokens.valid })).toMatchObject({ kind: 'allow', identity: { principal: 'dev-1' } });
    expect(seen).toEqual(['GET idp /.well-known/jwks.json']);
    const unavailable = new JwtAuthenticator({ ...options({}), jwks: viaPool }, async () => ({
      kind: 'unavailable',
      code: 'TG_ERR_UPSTREAM_UNAVAILABLE',
      reason: 'down',
    }));
    expect(await unavailable.authenticate({ ...client, token: tokens.valid })).toMatchObject({ kind: 'deny', status: 503 });
  });
});
