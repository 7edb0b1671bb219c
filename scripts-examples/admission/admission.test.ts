import { describe, it, expect } from 'vitest';
import { runExample } from '../run-example.js';

describe('example: admission control in onConnect', () => {
  it('admits known tenants with their token, attaching the tenant to the identity', async () => {
    const [ok, badToken, unknownTenant, badId, admittedMsg, strangerMsg] = await runExample(import.meta.dirname);
    expect(ok).toEqual({ ok: true, identity: { principal: 'acme-0001', method: 'script', attributes: { tenant: 'acme', serial: '0001' } } });
    expect(badToken).toEqual({ ok: false, status: 401, reason: 'bad token' });
    expect(unknownTenant).toEqual({ ok: false, status: 403, reason: "unknown tenant 'initech'" });
    expect(badId).toEqual({ ok: false, status: 403, reason: 'client id must look like tenant-0001' });
    expect(admittedMsg).toEqual([{ action: 'route', pool: 'ingest', path: '/tenants/acme/messages', headers: { 'x-tenant': 'acme' } }]);
    expect(strangerMsg).toEqual([{ action: 'reject', reason: 'not admitted through onConnect', code: 403 }]);
  });
});
