import { describe, expect, it } from 'vitest';
import { accepted, rejected, unavailable } from '../../../../src/envelope/index.js';
import { addressOf, basicCredentials, envelopeHeaders, outcomeAnswer } from '../../../../src/listeners/http/mapping.js';

describe('HTTP ingress mapping', () => {
  it('takes the address from the path under the prefix, decoding each segment', () => {
    expect(addressOf('/ingress/a/b%20c/d%2Fe', '/ingress/')).toEqual({ ok: true, address: 'a/b c/d/e' });
    expect(addressOf('/other/x', '/ingress/')).toMatchObject({ ok: false, status: 404 });
    expect(addressOf('/ingress/', '/ingress/')).toMatchObject({ ok: false, status: 404 });
    expect(addressOf('/ingress/%zz', '/ingress/')).toMatchObject({ ok: false, status: 400 });
    expect(addressOf('/x/y', '/')).toEqual({ ok: true, address: 'x/y' });
  });

  it('drops hop-by-hop and credential headers and adds the query', () => {
    const h = envelopeHeaders(
      {
        host: 'gw',
        connection: 'keep-alive',
        authorization: 'Basic eA==',
        cookie: 'a=b',
        'content-type': 'text/plain',
        'content-length': '3',
        'x-a': ['1', '2'],
        'uri-query': 'spoofed',
        'transfer-encoding': 'chunked',
      },
      'x=1',
    );
    expect(h).toEqual({ host: 'gw', 'x-a': '1, 2', 'uri-query': 'x=1' });
  });

  it('parses Basic credentials (RFC 7617)', () => {
    const auth = `Basic ${Buffer.from('dev:pa:ss').toString('base64')}`;
    const c = basicCredentials(auth)!;
    expect(c.username).toBe('dev');
    expect(c.password.toString()).toBe('pa:ss');
    expect(basicCredentials('Bearer x')).toBeUndefined();
    expect(basicCredentials(`Basic ${Buffer.from('nocolon').toString('base64')}`)).toBeUndefined();
  });

  it('maps outcomes to statuses', () => {
    expect(outcomeAnswer(accepted(200)).status).toBe(202);
    const reply = outcomeAnswer(accepted(200, { payload: Buffer.from('{}'), status: 201, contentType: 'application/json' }));
    expect([reply.status, reply.headers['content-type'], reply.body.toString()]).toEqual([201, 'application/json', '{}']);
    expect(outcomeAnswer(accepted(200, { payload: Buffer.from('x'), status: 204 })).status).toBe(200);
    const rej = outcomeAnswer(rejected(403, 'TG_ERR_SCRIPT_REJECTED', 'not yours'));
    expect([rej.status, JSON.parse(rej.body.toString())]).toEqual([403, { code: 'TG_ERR_SCRIPT_REJECTED', reason: 'not yours' }]);
    const un = outcomeAnswer(unavailable('TG_ERR_POOL_OVERLOADED', 'pool x overloaded', 1500));
    expect([un.status, un.headers['retry-after']]).toEqual([503, '2']);
    expect(JSON.parse(un.body.toString()).reason).not.toContain('pool x');
    expect(outcomeAnswer(unavailable('TG_ERR_UPSTREAM_TIMEOUT', 't', undefined, 504)).status).toBe(504);
  });
});
