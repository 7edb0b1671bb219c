import { describe, expect, it } from 'vitest';
import type { UpstreamRequest, UpstreamResult } from '../../../src/balancer/types.js';
import { HttpAuthenticator } from '../../../src/security/http-delegate.js';
import { authenticatorContract } from './authenticator-contract.js';

const base = { protocol: 'mqtt', listener: 'l', clientId: 'c', remoteAddress: '127.0.0.1' } as const;
const options = { pool: 'auth', path: '/auth', timeoutMs: 1000, onError: 'deny', cacheTtlMs: 1000, cacheMaxEntries: 10 } as const;

/** A stand-in auth service: dev/right is allowed, anything else 401. */
async function service(req: UpstreamRequest): Promise<UpstreamResult> {
  const c = JSON.parse(req.body.toString('utf8')) as { username?: string; password?: string };
  const ok = c.username === 'dev' && c.password === 'right';
  return { kind: 'response', status: ok ? 200 : 401, headers: {}, body: Buffer.from(ok ? '{"groups":["g"]}' : ''), endpoint: 'http://auth', attempts: 1 };
}

authenticatorContract('http', {
  make: () => new HttpAuthenticator(options, service),
  valid: { ...base, username: 'dev', password: Buffer.from('right') },
  principal: 'dev',
  wrong: { ...base, username: 'dev', password: Buffer.from('wrong-pw') },
  secret: 'wrong-pw',
});

describe('http delegate on failure', () => {
  it('an unavailable service denies with 503 (onError deny) or passes on (ignore)', async () => {
    const down = async (): Promise<UpstreamResult> => ({ kind: 'unavailable', code: 'TG_ERR_UPSTREAM_UNAVAILABLE', reason: 'connect refused' });
    const creds = { ...base, username: 'dev', password: Buffer.from('right') };
    expect(await new HttpAuthenticator(options, down).authenticate(creds)).toMatchObject({ kind: 'deny', status: 503 });
    expect(await new HttpAuthenticator({ ...options, onError: 'ignore' }, down).authenticate(creds)).toEqual({ kind: 'next' });
  });
});

describe('http delegate ACL rules', () => {
  const creds = { ...base, username: 'dev', password: Buffer.from('right') };
  const answering = (body: unknown) => async (): Promise<UpstreamResult> => ({
    kind: 'response',
    status: 200,
    headers: {},
    body: Buffer.from(JSON.stringify(body)),
    endpoint: 'http://auth',
    attempts: 1,
  });

  it('attaches the rules of the answer to the identity', async () => {
    const acl = [{ allow: ['publish'], address: 'own/{principal}' }];
    expect(await new HttpAuthenticator(options, answering({ acl })).authenticate(creds)).toMatchObject({ kind: 'allow', acl });
  });

  it('refuses (403) an answer whose rules cannot be read, rather than admit without them', async () => {
    const r = await new HttpAuthenticator(options, answering({ acl: [{ allow: ['publish'], address: 'a/#/b' }] })).authenticate(creds);
    expect(r).toEqual({ kind: 'deny', status: 403, reason: 'the authentication service sent ACL rules that are not valid' });
  });
});
