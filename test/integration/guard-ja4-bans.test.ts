/**
 * ClientHello fingerprint bans (guard.bans / POST /api/v1/bans kinds `ja4`
 * and `ja3`): refused once the ClientHello is read, before the TLS or DTLS
 * handshake goes on, with a fatal access_denied alert; every other client's
 * handshake is untouched. Real clients: mosquitto_pub, MQTT.js, curl and
 * openssl s_client (DTLS). Each TLS client's fingerprint is taken from its
 * own ClientHello, caught by a plain TCP server first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import mqtt from 'mqtt';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { run } from './auth-support.js';
import { fingerprint, parseClientHello, type ClientHelloFingerprint } from '../../src/security/client-hello.js';

let pki: Pki;
let backend: TestBackend;
let gw: TestGateway;
let mosquittoHello: ClientHelloFingerprint;
let nodeHello: ClientHelloFingerprint;
let curlHello: ClientHelloFingerprint;

/** The fingerprint of the first ClientHello `client(port)` sends to a plain TCP server (which then hangs up). */
async function helloOf(client: (port: number) => Promise<unknown>): Promise<ClientHelloFingerprint> {
  let resolveHello!: (h: ClientHelloFingerprint) => void;
  const got = new Promise<ClientHelloFingerprint>((r) => (resolveHello = r));
  const server = createServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 5 || buf.length < 5 + buf.readUInt16BE(3)) return;
      const hello = parseClientHello(buf);
      if (hello) resolveHello(fingerprint(hello));
      socket.destroy();
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const [hello] = await Promise.all([got, client(port).catch(() => undefined)]);
    return hello;
  } finally {
    server.close();
  }
}

const mosquittoArgs = (port: number, topic: string): string[] => [
  ...['-h', 'localhost', '-p', String(port), '--cafile', pki.ca, '-q', '1', '-m', 'x', '-V', 'mqttv5', '-i', 'ja4-m', '-t', topic],
];

function mqttjsPublish(port: number, topic: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtts://localhost:${port}`, { ca: readFileSync(pki.ca), reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 5 });
    c.on('error', (e) => {
      c.end(true);
      reject(e);
    });
    c.on('close', () => reject(new Error('closed')));
    c.on('connect', () =>
      c.publish(topic, 'x', { qos: 1 }, (err) => {
        c.end();
        if (err) reject(err);
        else resolve();
      }),
    );
  });
}

const curlArgs = (port: number): string[] => [
  ...['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-XPOST', '--data', 'x', '--cacert', pki.ca],
  ...['--resolve', `localhost:${port}:127.0.0.1`, `https://localhost:${port}/ingress/ja/web`],
];

const api = (): string => `http://127.0.0.1:${gw.gateway.adminAddress()!.port}/api/v1`;

beforeAll(async () => {
  pki = makePki();
  backend = await TestBackend.start();
  mosquittoHello = await helloOf((port) => run('mosquitto_pub', mosquittoArgs(port, 'x')));
  nodeHello = await helloOf((port) => mqttjsPublish(port, 'x'));
  curlHello = await helloOf((port) => run('curl', curlArgs(port)));
  const tls = { cert: pki.server.cert, key: pki.server.key };
  gw = await startGateway(
    {
      listeners: [
        { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0, tls },
        { name: 'https', protocol: 'http', host: '127.0.0.1', port: 0, tls },
        { name: 'coaps', protocol: 'coap', host: '127.0.0.1', port: 0, dtls: { psk: [{ identity: 'dev', key: 'k1' }] } },
      ],
      admin: { host: '127.0.0.1', port: 0 },
      pools: [{ name: 'be', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
      routes: [{ match: { address: '#' }, pool: 'be', request: { path: '/{listener}/{address}' } }],
      guard: { bans: [{ kind: 'ja4', value: mosquittoHello.ja4, reason: 'known bot build' }] },
    },
    { baseDir: pki.dir },
  );
});

afterAll(async () => {
  await gw?.stop();
  await backend?.close();
  pki?.remove();
});

describe('JA4 / JA3 bans', () => {
  it('the clients offer different ClientHellos (the premise of the tests below)', () => {
    expect(mosquittoHello.ja4).toMatch(/^t1[23][di]\d{4}/);
    expect(new Set([mosquittoHello.ja4, nodeHello.ja4, curlHello.ja4]).size).toBe(3);
  });

  it('a configured ja4 ban refuses mosquitto_pub with access_denied before the handshake; MQTT.js publishes', async () => {
    const refused = await run('mosquitto_pub', mosquittoArgs(gw.port('mqtts'), 'ja/banned'));
    expect(refused.code).not.toBe(0);
    await mqttjsPublish(gw.port('mqtts'), 'ja/allowed');
    const urls = backend.requests.map((q) => q.url);
    expect(urls).toContain('/mqtts/ja/allowed');
    expect(urls).not.toContain('/mqtts/ja/banned');
    const banned = gw.logs.filter((l) => l.event === 'security' && l.kind === 'banned' && l.listener === 'mqtts');
    expect(banned.map((l) => l.detail)).toContainEqual(expect.stringContaining(`ja4 ${mosquittoHello.ja4} is banned`));
    // Refused before TLS: no handshake failure reported, no time-out.
    expect(await gw.guardEvents('tls-handshake-failure', 'mqtts')).toBe(0);
  });

  it('a ja3 ban from the admin API refuses curl with an access_denied alert until it is lifted', async () => {
    const port = gw.port('https');
    expect((await run('curl', curlArgs(port))).stdout).toMatch(/^2\d\d$/);
    const bad = await fetch(`${api()}/bans`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'ja3', value: 'xyz' }),
    });
    expect(bad.status).toBe(400);
    const added = await fetch(`${api()}/bans`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'ja3', value: curlHello.ja3.toUpperCase(), reason: 'scraper' }),
    });
    expect(added.status).toBe(201);
    const ban = (await added.json()) as { id: string; kind: string; value: string };
    expect(ban).toMatchObject({ kind: 'ja3', value: curlHello.ja3 });
    const refused = await run('curl', curlArgs(port));
    expect(refused.code).toBe(35);
    expect(refused.stderr).toMatch(/access denied/i);
    expect((await fetch(`${api()}/bans/${ban.id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await run('curl', curlArgs(port))).stdout).toMatch(/^2\d\d$/);
  });

  it('DTLS: the JA4 the connections list shows, banned through the API, refuses openssl s_client -dtls1_2', async () => {
    const port = gw.port('coaps');
    expect(await dtlsHandshake(port)).toMatch(/^New, TLSv1\.2/);
    const { connections } = (await (await fetch(`${api()}/connections`)).json()) as { connections: Array<{ listener: string; tls?: { ja4?: string } }> };
    const ja4 = connections.find((c) => c.listener === 'coaps' && c.tls?.ja4)?.tls?.ja4;
    expect(ja4).toMatch(/^dd2i/);
    const added = await fetch(`${api()}/bans`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'ja4', value: ja4, reason: 'dtls bot' }),
    });
    expect(added.status).toBe(201);
    expect(await dtlsHandshake(port)).toMatch(/access denied/i);
    const bans = (await (await fetch(`${api()}/bans`)).json()) as Array<{ kind: string; value: string }>;
    expect(bans).toContainEqual(expect.objectContaining({ kind: 'ja4', value: ja4 }));
  });
});

/** One openssl DTLS 1.2 PSK handshake: its 'New, …' line, or its error output once it gives up. */
function dtlsHandshake(port: number): Promise<string> {
  const args = ['s_client', '-dtls1_2', '-psk_identity', 'dev', '-psk', Buffer.from('k1').toString('hex'), '-cipher', 'PSK-AES128-CCM8'];
  const p = spawn('openssl', [...args, '-connect', `127.0.0.1:${port}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve) => {
    const done = (s: string): void => {
      clearTimeout(timer);
      p.stdin.end();
      p.kill();
      resolve(s);
    };
    const timer = setTimeout(() => done(`no answer: ${out}`), 15_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /^New, TLSv1\.2.*$/m.exec(out) ?? /alert access denied/i.exec(out);
      if (m) done(m[0]);
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('close', () => done(out));
  });
}
