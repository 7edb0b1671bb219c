/**
 * The identity sections' combinations the schema alone cannot say: a jwt
 * key from exactly one place, a JWKS from one place and never for HS256,
 * and `acl` as `{ default, rules }` (or the bare list of rules), its
 * problems named at the path the file used.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';

const raw = (auth: unknown[], acl?: unknown) => ({
  listeners: [{ name: 'm', protocol: 'mqtt', host: '127.0.0.1', port: 0, auth }],
  pools: [{ name: 'p', endpoints: [{ url: 'http://127.0.0.1:8080' }] }],
  routes: [{ match: { address: '#' }, pool: 'p' }],
  ...(acl !== undefined && { acl }),
});

function problemsOf(config: unknown): string[] {
  try {
    parseConfig(config, { source: 'gw.yaml' });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  return [];
}

const jwt = (extra: Record<string, unknown>) => [{ type: 'jwt', algorithms: ['ES256'], ...extra }];

describe('identity configuration', () => {
  it('jwt: exactly one of keyFile and jwks; a jwks from a url or an existing pool; no HS256 from a key set', () => {
    expect(problemsOf(raw(jwt({})))).toEqual(["gw.yaml: /listeners/0/auth/0: needs exactly one of 'keyFile' or 'jwks'"]);
    expect(problemsOf(raw(jwt({ keyFile: 'k.pem', jwks: { url: 'https://idp/jwks' } })))).toHaveLength(1);
    expect(problemsOf(raw(jwt({ jwks: {} })))).toEqual(["gw.yaml: /listeners/0/auth/0/jwks: needs exactly one of 'url' or 'pool'"]);
    expect(problemsOf(raw(jwt({ jwks: { pool: 'idp' } })))).toEqual(["gw.yaml: /listeners/0/auth/0/jwks/pool: no pool named 'idp'"]);
    expect(problemsOf(raw([{ type: 'jwt', algorithms: ['HS256'], jwks: { pool: 'p' } }]))).toEqual([
      'gw.yaml: /listeners/0/auth/0/algorithms: HS256 needs a keyFile (a shared secret), not a jwks',
    ]);
    const ok = parseConfig(raw(jwt({ jwks: { pool: 'p' } })));
    expect(ok.listeners[0]!.auth[0]).toMatchObject({ jwks: { pool: 'p', path: '/.well-known/jwks.json', cacheMaxAgeMs: 600000, cooldownMs: 30000 } });
  });

  it('acl: the object form with a default, the bare list as rules, problems at the path used', () => {
    expect(parseConfig(raw([])).acl).toEqual({ rules: [] });
    expect(parseConfig(raw([], [{ allow: ['publish'], address: 'a/#' }])).acl).toEqual({ rules: [{ allow: ['publish'], address: 'a/#' }] });
    expect(parseConfig(raw([], { default: 'allow' })).acl).toEqual({ default: 'allow', rules: [] });
    expect(problemsOf(raw([], { default: 'maybe' }))).toContain('gw.yaml: /acl/default: must be one of "allow", "deny"');
    expect(problemsOf(raw([], { rules: [{ address: 'a' }] }))).toEqual(["gw.yaml: /acl/rules/0: needs exactly one of 'allow' or 'deny'"]);
    expect(problemsOf(raw([], [{ allow: ['publish'], address: 'a/#/b' }]))[0]).toMatch(/^gw\.yaml: \/acl\/0\/address: /);
  });
});
