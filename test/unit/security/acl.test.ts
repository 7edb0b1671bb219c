import { describe, expect, it } from 'vitest';
import { Acl, MAX_IDENTITY_RULES, covers, overlaps, parseIdentityRules } from '../../../src/security/acl.js';
import { compileBinding } from '../../../src/security/binding.js';
import type { Identity } from '../../../src/envelope/index.js';

const alice: Identity = { principal: 'alice', method: 'password', attributes: { tenant: 'acme' }, groups: ['ops', 'sensors'] };
const dev = { clientId: 'dev1', identity: alice };

const acl = new Acl([
  { allow: ['publish'], address: 'telemetry/{clientId}/#' },
  { allow: ['subscribe'], address: 'commands/{clientId}/#' },
  { allow: ['publish', 'subscribe'], address: 'tenants/{attr.tenant}/{principal}/+' },
  { allow: ['subscribe'], address: 'groups/{group}/#' },
  { deny: ['subscribe'], address: 'secret/#' },
  { allow: ['subscribe'], address: 'public/#' },
]);

describe('ACL', () => {
  it('gives each device its own topics through placeholders', () => {
    expect(acl.decide(dev, 'publish', 'telemetry/dev1/temp')?.allowed ?? false).toBe(true);
    expect(acl.decide(dev, 'publish', 'telemetry/dev2/temp')?.allowed ?? false).toBe(false);
    expect(acl.decide(dev, 'subscribe', 'commands/dev1/#')?.allowed ?? false).toBe(true);
    expect(acl.decide(dev, 'subscribe', 'commands/+/#')?.allowed ?? false).toBe(false);
    expect(acl.decide(dev, 'subscribe', '#')?.allowed ?? false).toBe(false);
    expect(acl.decide(dev, 'publish', 'tenants/acme/alice/x')?.allowed ?? false).toBe(true);
    expect(acl.decide(dev, 'publish', 'tenants/other/alice/x')?.allowed ?? false).toBe(false);
  });

  it('expands {group} once per group', () => {
    expect(acl.decide(dev, 'subscribe', 'groups/ops/a')?.allowed ?? false).toBe(true);
    expect(acl.decide(dev, 'subscribe', 'groups/sensors/#')?.allowed ?? false).toBe(true);
    expect(acl.decide(dev, 'subscribe', 'groups/admins/#')?.allowed ?? false).toBe(false);
  });

  it('first match wins, and a deny applies to any filter that overlaps it', () => {
    const a = new Acl([
      { deny: ['subscribe'], address: 'secret/#' },
      { allow: ['subscribe'], address: '#' },
    ]);
    expect(a.decide(dev, 'subscribe', 'news/#')?.allowed ?? false).toBe(true);
    expect(a.decide(dev, 'subscribe', 'secret/x')?.allowed ?? false).toBe(false);
    expect(a.decide(dev, 'subscribe', '#')?.allowed ?? false).toBe(false);
    expect(a.decide(dev, 'subscribe', '+/x')?.allowed ?? false).toBe(false);
  });

  it('a placeholder value holding a wildcard or missing makes its rule not apply', () => {
    const evil = { clientId: '#', identity: { ...alice, principal: '+' } };
    expect(acl.decide(evil, 'publish', 'telemetry/x/y')?.allowed ?? false).toBe(false);
    expect(acl.decide({ clientId: 'dev1' }, 'publish', 'tenants/acme/alice/x')?.allowed ?? false).toBe(false);
  });

  it('leaves an address no rule matches undecided (the gate applies acl.default)', () => {
    expect(new Acl([]).decide(dev, 'publish', 'a/b')).toBeUndefined();
    expect(acl.decide(dev, 'receive', 'a/b')).toBeUndefined();
    expect(acl.decide(dev, 'publish', 'telemetry/dev1/x')).toEqual({ allowed: true, rule: 'allow publish telemetry/{clientId}/#' });
  });

  it('reads rules from outside the configuration strictly: anything malformed refuses the whole list', () => {
    expect(parseIdentityRules([{ allow: ['publish'], address: 'own/{principal}/#' }])).toEqual([{ allow: ['publish'], address: 'own/{principal}/#' }]);
    for (const bad of [
      'allow all',
      [{ allow: ['publish'], deny: ['publish'], address: 'a' }],
      [{ allow: ['write'], address: 'a' }],
      [{ allow: ['publish'], address: 'a/#/b' }],
      [{ allow: ['publish'], address: '{password}' }],
      [{ allow: ['publish'], address: 'a', extra: 1 }],
      [null],
      Array.from({ length: MAX_IDENTITY_RULES + 1 }, () => ({ allow: ['publish'], address: 'a' })),
    ])
      expect(parseIdentityRules(bad)).toBeUndefined();
  });

  it('covers and overlaps follow MQTT wildcard semantics', () => {
    const s = (t: string) => t.split('/');
    expect(covers(s('a/#'), s('a'))).toBe(true);
    expect(covers(s('a/+'), s('a/+'))).toBe(true);
    expect(covers(s('a/+'), s('a/#'))).toBe(false);
    expect(covers(s('#'), s('$SYS/x'))).toBe(false);
    expect(overlaps(s('a/+/c'), s('a/b/#'))).toBe(true);
    expect(overlaps(s('a/b'), s('a/c'))).toBe(false);
    expect(overlaps(s('a/b'), s('a/b/c'))).toBe(false);
  });
});

describe('client-id binding', () => {
  it('ties the client id to the principal or a pattern of it', () => {
    expect(compileBinding('{principal}')('alice', alice)).toBe(true);
    expect(compileBinding('{principal}')('bob', alice)).toBe(false);
    expect(compileBinding('{principal}')('alice', undefined)).toBe(false);
    const p = compileBinding('{attr.tenant}-{principal}-*');
    expect(p('acme-alice-1', alice)).toBe(true);
    expect(p('acme-bob-1', alice)).toBe(false);
    // Regular-expression characters in a principal are literal.
    expect(compileBinding('{principal}')('aXb', { ...alice, principal: 'a.b' })).toBe(false);
  });
});
