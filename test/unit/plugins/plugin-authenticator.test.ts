/**
 * A plugin authenticator: its `auth` entries are checked against the schema
 * it registered (problems name the listener, the step and the plugin's
 * keys), the gate builds it by type name, and it passes the authenticator
 * contract like the built-ins.
 */
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfigWithPlugins } from '../../../src/plugins/load.js';
import { pluginConfigProblems } from '../../helpers/plugin-config.js';
import { SecurityGate } from '../../../src/security/gate.js';
import type { Authenticator } from '../../../src/security/authenticator.js';
import { authenticatorContract } from '../security/authenticator-contract.js';

const fixtures = join(import.meta.dirname, '../../fixtures/plugins');
const quiet = pino({ level: 'silent' });

const raw = (auth: unknown[], plugins: unknown[] = [{ use: './shared-token-auth.mjs' }]) => ({
  plugins,
  listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0, auth }],
  pools: [{ name: 'p', endpoints: [{ url: 'http://127.0.0.1:8080' }] }],
  routes: [{ match: { address: '#' }, pool: 'p' }],
});

const loaded = await parseConfigWithPlugins(raw([{ type: 'shared-token', tokens: { 'dev-7': 'token-of-dev-7' }, ownPrefix: 'plant' }]), {
  source: 'gw.yaml',
  baseDir: fixtures,
  env: {},
});

/** The step the gate built from the configuration, reached through its chain as admission does. */
function step(): Authenticator {
  const entry = loaded.registries.authenticators.get('shared-token')!;
  const { type: _t, ...options } = loaded.config.listeners[0]!.auth[0]! as Record<string, unknown>;
  return entry.create(options, { baseDir: fixtures, logger: quiet });
}

const base = { protocol: 'mqtt', listener: 'mqtt', clientId: 'c', remoteAddress: '127.0.0.1' } as const;

authenticatorContract('plugin shared-token', {
  make: step,
  valid: { ...base, username: 'dev-7', password: Buffer.from('token-of-dev-7') },
  principal: 'dev-7',
  wrong: { ...base, username: 'dev-7', password: Buffer.from('not-the-token') },
  secret: 'not-the-token',
});

const problemsOf = (raw: unknown) => pluginConfigProblems(raw, fixtures);

describe('plugin authenticators', () => {
  it('the gate builds the step by type name and admits through it with the rules it attaches', async () => {
    const gate = new SecurityGate(loaded.config, { logger: quiet, report: () => {}, authenticators: loaded.registries.authenticators });
    const r = await gate.authenticate({ ...base, username: 'dev-7', password: Buffer.from('token-of-dev-7') });
    expect(r).toMatchObject({ ok: true, identity: { principal: 'dev-7' }, acl: [{ allow: ['publish'], address: 'plant/{principal}/#' }] });
    const source = Object.freeze({ clientId: 'c', remoteAddress: '127.0.0.1', identity: r.ok ? r.identity : undefined });
    expect(gate.authorize('mqtt', source, 'publish', 'plant/dev-7/t')).toBe(true);
    expect(gate.authorize('mqtt', source, 'publish', 'plant/dev-8/t')).toBe(true); // no configured rules: default allow
    gate.close();
  });

  it("checks an entry against the plugin's schema, naming the listener and step", async () => {
    const problems = await problemsOf(raw([{ type: 'shared-token', tokens: { d: 'short' }, colour: 'red' }]));
    expect(problems.some((p) => p.includes('/listeners/0/auth/0') && p.includes("unknown key 'colour'"))).toBe(true);
    expect(problems.some((p) => p.includes('/listeners/0/auth/0/tokens/d'))).toBe(true);
  });

  it('an authenticator type no plugin registered is refused with the registered names', async () => {
    const problems = await problemsOf(raw([{ type: 'shared-token', tokens: {} }], []));
    expect(problems.some((p) => p.includes('/listeners/0/auth/0/type') && p.includes('"password"'))).toBe(true);
  });

  it('a plugin cannot take a built-in authenticator name', async () => {
    const problems = await problemsOf(raw([], [{ use: './auth-named-password.mjs' }]));
    expect(problems.some((p) => p.includes("authenticator 'password' is already registered by a built-in"))).toBe(true);
  });
});
