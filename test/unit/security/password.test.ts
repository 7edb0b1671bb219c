import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { PasswordAuthenticator } from '../../../src/security/password.js';
import * as scrypt from '../../../src/security/scrypt.js';
import { hashPassword, parseScryptHash } from '../../../src/security/scrypt.js';
import { VerifiedCache } from '../../../src/security/verified-cache.js';
import { authenticatorContract } from './authenticator-contract.js';

/** Cheap cost parameters: these tests check behaviour, not strength. */
const FAST = { N: 1024, r: 8, p: 1 };
const dir = mkdtempSync(join(tmpdir(), 'tg-pw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = pino({ level: 'silent' });

async function usersFile(
  name: string,
  users: Record<string, { password: string; groups?: string[]; attributes?: Record<string, string>; acl?: unknown }>,
): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const [u, v] of Object.entries(users)) out[u] = { ...v, password: await hashPassword(v.password, FAST) };
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify({ users: out }));
  return file;
}

const file = await usersFile('users.json', { alice: { password: 's3cret', groups: ['sensors'], attributes: { tenant: 'acme' } } });
const make = (f = file, cacheTtlMs = 60000) => new PasswordAuthenticator({ file: f, cacheTtlMs, cacheMaxEntries: 100, watch: false }, quiet);
const base = { protocol: 'mqtt', listener: 'l', clientId: 'c', remoteAddress: '127.0.0.1' } as const;

authenticatorContract('password', {
  make: () => make(),
  valid: { ...base, username: 'alice', password: Buffer.from('s3cret') },
  principal: 'alice',
  wrong: { ...base, username: 'alice', password: Buffer.from('guess-123') },
  secret: 'guess-123',
});

describe('password authenticator', () => {
  it('carries the file groups and attributes on the identity', async () => {
    const r = await make().authenticate({ ...base, username: 'alice', password: Buffer.from('s3cret') });
    expect(r).toMatchObject({ kind: 'allow', identity: { principal: 'alice', method: 'password', groups: ['sensors'], attributes: { tenant: 'acme' } } });
  });

  it('verifies concurrent logins with the same credentials with one scrypt', async () => {
    const a = make(file, 0);
    const spy = vi.spyOn(scrypt, 'verifyPassword');
    const creds = { ...base, username: 'alice', password: Buffer.from('s3cret') };
    const results = await Promise.all(Array.from({ length: 10 }, () => a.authenticate(creds)));
    expect(results.every((r) => r.kind === 'allow')).toBe(true);
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
  });

  it("attaches the user's ACL rules from the file; a malformed list is a file error naming the entry", async () => {
    const acl = [{ deny: ['subscribe'], address: 'secret/#' }];
    const f = await usersFile('acl.json', { carol: { password: 'pw', acl } });
    expect(await make(f).authenticate({ ...base, username: 'carol', password: Buffer.from('pw') })).toMatchObject({ kind: 'allow', acl });
    const bad = await usersFile('bad-acl.json', { carol: { password: 'pw', acl: [{ allow: ['publish'] }] } });
    expect(() => make(bad)).toThrow(/bad-acl\.json: users\.carol\.acl: expected/);
  });

  it('passes an unknown user to the next step', async () => {
    expect(await make().authenticate({ ...base, username: 'mallory', password: Buffer.from('x') })).toEqual({ kind: 'next' });
  });

  it('a reload takes a changed password at once, though the old one was cached', async () => {
    const f = await usersFile('reload.json', { bob: { password: 'one' } });
    const a = make(f);
    const one = { ...base, username: 'bob', password: Buffer.from('one') };
    expect((await a.authenticate(one)).kind).toBe('allow');
    await usersFile('reload.json', { bob: { password: 'two' } });
    a.reload();
    expect((await a.authenticate(one)).kind).toBe('deny');
    expect((await a.authenticate({ ...one, password: Buffer.from('two') })).kind).toBe('allow');
  });

  it('a malformed file on reload keeps the previous users', async () => {
    const f = await usersFile('broken.json', { carol: { password: 'pw' } });
    const a = make(f);
    writeFileSync(f, '{ users: [');
    a.reload();
    expect((await a.authenticate({ ...base, username: 'carol', password: Buffer.from('pw') })).kind).toBe('allow');
  });

  it('refuses a missing or malformed file at start, naming the entry', async () => {
    expect(() => make(join(dir, 'none.json'))).toThrow(/none\.json/);
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'users:\n  dave:\n    password: plain-text\n');
    expect(() => make(f)).toThrow(/users\.dave\.password/);
  });

  it('re-reads the file when it changes (watch)', async () => {
    const f = await usersFile('watched.json', { erin: { password: 'a' } });
    const a = new PasswordAuthenticator({ file: f, cacheTtlMs: 0, cacheMaxEntries: 0, watch: true }, quiet);
    try {
      await usersFile('watched.json', { erin: { password: 'b' } });
      const creds = { ...base, username: 'erin', password: Buffer.from('b') };
      let kind = '';
      for (let i = 0; i < 100 && kind !== 'allow'; i++) {
        kind = (await a.authenticate(creds)).kind;
        if (kind !== 'allow') await new Promise((r) => setTimeout(r, 50));
      }
      expect(kind).toBe('allow');
    } finally {
      a.close();
    }
  });
});

describe('scrypt hashes', () => {
  it('rejects cost parameters that would exhaust memory', () => {
    expect(parseScryptHash('scrypt$1073741824$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toBeUndefined();
    expect(parseScryptHash('scrypt$1000$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toBeUndefined();
  });
});

describe('verified cache', () => {
  it('expires entries after the TTL and evicts the oldest past the bound', () => {
    let now = 0;
    const c = new VerifiedCache<true>(2, 1000, () => now);
    c.set('a', true);
    c.set('b', true);
    c.set('c', true);
    expect(c.get('a')).toBeUndefined();
    expect(c.get('b')).toBe(true);
    now = 1000;
    expect(c.get('c')).toBeUndefined();
  });

  it('keys on a digest that separates user and password', () => {
    expect(VerifiedCache.key('ab', 'c')).not.toBe(VerifiedCache.key('a', 'bc'));
    expect(VerifiedCache.key('alice', 's3cret')).not.toContain('s3cret');
  });
});
