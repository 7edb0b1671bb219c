import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { SecurityGate, type SecurityReport } from '../../../src/security/gate.js';
import { attachRules, mergeIdentity } from '../../../src/security/identity-rules.js';
import type { Identity } from '../../../src/envelope/index.js';

function gate(listeners: unknown[], acl: unknown = []): { gate: SecurityGate; logs: Array<Record<string, unknown>>; reports: SecurityReport[] } {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l) logs.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const config = parseConfig({
    listeners,
    acl,
    pools: [{ name: 'p', endpoints: [{ url: 'http://127.0.0.1:1' }] }],
    routes: [{ match: { address: '#' }, pool: 'p' }],
  });
  const reports: SecurityReport[] = [];
  return { gate: new SecurityGate(config, { logger: pino({ level: 'debug' }, sink), report: (r) => reports.push(r) }), logs, reports };
}

describe('security gate', () => {
  it('warns at start about a non-loopback listener that admits anonymous clients, not about a loopback one', () => {
    const { logs } = gate([
      { name: 'open', protocol: 'mqtt', host: '0.0.0.0', port: 0 },
      { name: 'local', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
      {
        name: 'explicit',
        protocol: 'http',
        host: '::',
        port: 0,
        auth: [{ type: 'x509' }],
        anonymous: true,
        tls: { cert: 'c', key: 'k', ca: 'a', requestCert: true },
      },
    ]);
    const warned = logs.filter((l) => String(l.msg).includes('admits anonymous')).map((l) => l.listener);
    expect(warned).toEqual(['open', 'explicit']);
  });

  it('refuses past the chain end unless anonymous, and caches ACL decisions per connection while reporting every denial', async () => {
    const { gate: g, reports } = gate(
      [{ name: 'x', protocol: 'mqtt', host: '127.0.0.1', port: 0, auth: [{ type: 'x509' }], tls: { cert: 'c', key: 'k', ca: 'a', requestCert: true } }],
      [{ allow: ['publish'], address: 'own/{clientId}' }],
    );
    expect(await g.authenticate({ protocol: 'mqtt', listener: 'x', clientId: 'c', remoteAddress: '1.2.3.4' })).toMatchObject({ ok: false, status: 401 });
    const source = Object.freeze({ clientId: 'c', remoteAddress: '1.2.3.4' });
    expect(g.authorize('x', source, 'publish', 'own/c')).toBe(true);
    expect(g.authorize('x', source, 'publish', 'own/d')).toBe(false);
    expect(g.authorize('x', source, 'publish', 'own/d')).toBe(false);
    expect(reports.map((r) => r.kind)).toEqual(['acl-denied', 'acl-denied']);
    expect(reports[1]!.detail).toContain("publish 'own/d'");
  });

  describe('acl.default', () => {
    const mqtt = [{ name: 'm', protocol: 'mqtt', host: '127.0.0.1', port: 0 }];
    const src = Object.freeze({ clientId: 'c', remoteAddress: '127.0.0.1' });
    const rules = [{ deny: ['publish'], address: 'secret/#' }];

    it('unset: allow without rules (nothing enforced), deny once there are rules; the bare list form still reads', () => {
      expect(gate(mqtt).gate.enforcing).toBe(false);
      const g = gate(mqtt, rules).gate;
      expect([g.authorize('m', src, 'publish', 'secret/x'), g.authorize('m', src, 'publish', 'open/x')]).toEqual([false, false]);
      const o = gate(mqtt, { rules }).gate;
      expect(o.authorize('m', src, 'publish', 'open/x')).toBe(false);
    });

    it('allow: what no rule matches passes, what a rule denies does not (no final catch-all rule needed)', () => {
      const { gate: g, reports } = gate(mqtt, { default: 'allow', rules });
      expect(g.authorize('m', src, 'publish', 'open/x')).toBe(true);
      expect(g.authorize('m', src, 'publish', 'secret/x')).toBe(false);
      expect(reports.map((r) => r.detail)).toEqual(["publish 'secret/x' denied (deny publish secret/#)"]);
    });

    it('deny without rules: everything is refused, naming the default', () => {
      const { gate: g, reports } = gate(mqtt, { default: 'deny' });
      expect(g.enforcing).toBe(true);
      expect(g.authorize('m', src, 'subscribe', 'a/#')).toBe(false);
      expect(reports[0]!.detail).toContain('default deny');
    });
  });

  describe('rules from authenticators', () => {
    const mqtt = [
      { name: 'm', protocol: 'mqtt', host: '127.0.0.1', port: 0, auth: [{ type: 'x509' }], tls: { cert: 'c', key: 'k', ca: 'a', requestCert: true } },
    ];
    const identity = (): Identity => Object.freeze({ principal: 'dev-1', method: 'password', attributes: Object.freeze({}), groups: Object.freeze([]) });

    it("are tried before the configured rules, which come before the default; another connection's identity is not affected", () => {
      const { gate: g, reports } = gate(mqtt, {
        default: 'deny',
        rules: [
          { deny: ['publish'], address: 'shared/blocked' },
          { allow: ['publish'], address: 'telemetry/{principal}/#' },
        ],
      });
      const own = identity();
      attachRules(own, [
        { allow: ['publish'], address: 'shared/blocked' },
        { deny: ['publish'], address: 'telemetry/{principal}/private' },
      ]);
      const a = Object.freeze({ clientId: 'a', remoteAddress: '127.0.0.1', identity: own });
      const b = Object.freeze({ clientId: 'b', remoteAddress: '127.0.0.1', identity: identity() });
      expect(g.authorize('m', a, 'publish', 'shared/blocked')).toBe(true); // identity rule first
      expect(g.authorize('m', a, 'publish', 'telemetry/dev-1/private')).toBe(false); // identity deny beats a configured allow
      expect(g.authorize('m', a, 'publish', 'telemetry/dev-1/t')).toBe(true); // configured
      expect(g.authorize('m', a, 'publish', 'elsewhere')).toBe(false); // default
      expect(g.authorize('m', b, 'publish', 'shared/blocked')).toBe(false);
      expect(reports.map((r) => r.detail)).toContain("publish 'telemetry/dev-1/private' denied (identity: deny publish telemetry/{principal}/private)");
    });

    it('stay with an identity an onConnect script amended', () => {
      const { gate: g } = gate(mqtt, { default: 'deny' });
      const verified = identity();
      attachRules(verified, [{ allow: ['publish'], address: 'own/{principal}' }]);
      const merged = mergeIdentity(verified, { principal: 'renamed', method: 'script', attributes: {} });
      const s = Object.freeze({ clientId: 'a', remoteAddress: '127.0.0.1', identity: merged });
      expect(g.authorize('m', s, 'publish', 'own/renamed')).toBe(true);
      expect(g.authorize('m', s, 'publish', 'own/dev-1')).toBe(false);
    });

    it('a listener with authenticators enforces even with no configured rules, since identities may carry rules', () => {
      const { gate: g } = gate(mqtt);
      expect(g.enforcing).toBe(true);
      const own = identity();
      attachRules(own, [{ deny: ['publish'], address: 'x' }]);
      expect(g.authorize('m', Object.freeze({ clientId: 'a', remoteAddress: '127.0.0.1', identity: own }), 'publish', 'x')).toBe(false);
      expect(g.authorize('m', Object.freeze({ clientId: 'a', remoteAddress: '127.0.0.1', identity: own }), 'publish', 'y')).toBe(true);
    });
  });
});
