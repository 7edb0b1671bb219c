import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { SecurityGate, type SecurityReport } from '../../../src/security/gate.js';

function gate(listeners: unknown[], acl: unknown[] = []): { gate: SecurityGate; logs: Array<Record<string, unknown>>; reports: SecurityReport[] } {
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
});
