/**
 * Admission of HTTP ingress requests (Basic credentials → ClientInfo →
 * onConnect script) and of CoAP sources, through the real script host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestBackend } from '../helpers/backend.js';
import { errorCodeOf } from '../helpers/http.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

const SCRIPT = `
export function onConnect(client) {
  if (client.protocol === 'coap') return reject('no coap devices here', 403);
  if (client.username === undefined) return reject('credentials required', 401);
  if (client.username !== 'dev' || client.password !== 'pw') return reject('bad credentials', 401);
  if (client.clientId === 'banned') return reject('not allowed', 403);
  return accept({ principal: client.username });
}
export function onMessage(msg) { return route('be'); }
`;

let dir: string;
let backend: TestBackend;
let gw: TestGateway;
let base: string;
const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'thinggate-admission-'));
  writeFileSync(join(dir, 'gate.js'), SCRIPT);
  backend = await TestBackend.start();
  gw = await startGateway(
    {
      listeners: [
        { name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 },
        { name: 'coap', protocol: 'coap', host: '127.0.0.1', port: 0 },
      ],
      pools: [{ name: 'be', endpoints: [{ url: backend.url }] }],
      routes: [{ match: { address: '#' }, script: 'gate.js', pool: 'be', request: { path: '/s/{address}' } }],
    },
    { baseDir: dir },
  );
  base = `http://127.0.0.1:${gw.port('web')}/ingress`;
});

afterAll(async () => {
  await gw.stop();
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('HTTP admission', () => {
  it('401 with WWW-Authenticate without or with wrong credentials', async () => {
    const none = await fetch(`${base}/a`, { method: 'POST', body: 'x' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(await none.json()).toMatchObject({ code: 'TG_ERR_HTTP_UNAUTHORIZED', reason: 'credentials required' });
    const wrong = await fetch(`${base}/a`, { method: 'POST', body: 'x', headers: { authorization: basic('dev', 'nope') } });
    expect(wrong.status).toBe(401);
    expect(backend.requests).toHaveLength(0);
  });

  it('403 for a refused client id', async () => {
    const res = await fetch(`${base}/a`, { method: 'POST', body: 'x', headers: { authorization: basic('dev', 'pw'), 'x-client-id': 'banned' } });
    expect(res.status).toBe(403);
    expect(await errorCodeOf(res)).toBe('TG_ERR_HTTP_FORBIDDEN');
  });

  it('admits good credentials and carries the identity to the back-end', async () => {
    const res = await fetch(`${base}/a/b`, { method: 'POST', body: 'x', headers: { authorization: basic('dev', 'pw'), 'x-client-id': 'd-1' } });
    expect(res.status).toBe(202);
    const r = backend.requests.at(-1)!;
    expect(r.url).toBe('/s/a/b');
    expect(r.headers['x-thinggate-identity']).toBe('dev');
    expect(r.headers['x-thinggate-client-id']).toBe('d-1');
    expect(r.headers['authorization']).toBeUndefined();
    expect(JSON.stringify(gw.logs)).not.toContain('"pw"');
  });
});

describe('CoAP admission', () => {
  it('answers 4.03 to a source refused by onConnect', async () => {
    const sock = createSocket('udp4');
    try {
      const answer = new Promise<Buffer>((resolve) => sock.once('message', resolve));
      await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
      // CON POST /x, message id 1, token 0x01
      sock.send(Buffer.from([0x41, 0x02, 0x00, 0x01, 0x01, 0xb1, 0x78, 0xff, 0x61]), gw.port('coap'), '127.0.0.1');
      const res = await answer;
      expect(res[1]).toBe((4 << 5) | 3);
      expect(res.subarray(res.indexOf(0xff) + 1).toString()).toBe('no coap devices here');
      expect(backend.requests.filter((q) => q.url === '/s/x')).toHaveLength(0);
    } finally {
      sock.close();
    }
  });
});
