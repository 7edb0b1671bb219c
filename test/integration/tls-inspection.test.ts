/**
 * Inspection of TLS connections: the handshake facts and the client
 * certificate reach scripts as `msg.tls`, the ClientHello fingerprint tells
 * client stacks apart (openssl s_client and node's tls differ, one stack
 * stays the same) and routes match on it.
 */
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { TestBackend } from '../helpers/backend.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { run, until } from '../helpers/run.js';
import { ScriptDir } from '../unit/scripting/support.js';

let pki: Pki;
let backend: TestBackend;
let gw: TestGateway;
const scripts = new ScriptDir();

/** A node TLS handshake on `listener`; resolves once it is done (and closes). */
function nodeHandshake(listener: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: gw.port(listener), servername: 'localhost', ca: [readFileSync(pki.ca)] }, () => {
      s.end();
      resolve();
    });
    s.on('error', reject);
  });
}

const connections = (): Array<{ tls: { ja4: string; ja3: string } }> => gw.logs.filter((l) => l.event === 'tls-connection' && l.listener === 'probe') as never;

async function fingerprintOf(handshake: () => Promise<unknown>): Promise<{ ja4: string; ja3: string }> {
  const seen = connections().length;
  await handshake();
  await until(() => connections().length > seen);
  return connections().at(-1)!.tls;
}

beforeAll(async () => {
  pki = makePki();
  backend = await TestBackend.start();
  scripts.write(
    'inspect.js',
    `export function onMessage(msg) {
    return route('default', { path: '/inspected', headers: { 'x-tls': JSON.stringify(msg.tls ?? null) } });
  }`,
  );
  gw = await startGateway(
    {
      listeners: [
        { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0, tls: { ...pki.server, ca: pki.ca, clientCert: 'optional' } },
        { name: 'probe', protocol: 'http', host: '127.0.0.1', port: 0, tls: pki.server },
      ],
      pools: [{ name: 'default', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
      routes: [
        { match: { address: 'inspect/#' }, script: 'inspect.js' },
        { match: { address: 'fp/#', tlsFingerprint: '${NODE_JA4}' }, pool: 'default', request: { path: '/known/{address}' } },
        { match: { address: 'fp/#' }, pool: 'default', request: { path: '/unknown/{address}' } },
      ],
      scripts: { watch: false },
    },
    { baseDir: scripts.path, env: { ...process.env, NODE_JA4: await nodeJa4() } },
  );
});
afterAll(async () => {
  await gw?.stop();
  await backend?.close();
  pki?.remove();
  scripts.remove();
});

/** node's JA4 towards a listener with no ALPN, learnt from a throw-away gateway (the route table needs it at start). */
async function nodeJa4(): Promise<string> {
  const probe = await startGateway({ listeners: [{ name: 'probe', protocol: 'http', host: '127.0.0.1', port: 0, tls: pki.server }], pools: [], routes: [] });
  try {
    const seen = probe.logs.length;
    await new Promise<void>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: probe.port('probe'), servername: 'localhost', rejectUnauthorized: false }, () => {
        s.end();
        resolve();
      });
      s.on('error', reject);
    });
    await until(() => probe.logs.slice(seen).some((l) => l.event === 'tls-connection'));
    return (probe.logs.slice(seen).find((l) => l.event === 'tls-connection') as { tls: { ja4: string } }).tls.ja4;
  } finally {
    await probe.stop();
  }
}

describe('ClientHello fingerprint', () => {
  it('differs between openssl s_client and node, and stays the same for one stack', async () => {
    const node1 = await fingerprintOf(() => nodeHandshake('probe'));
    const node2 = await fingerprintOf(() => nodeHandshake('probe'));
    const openssl = await fingerprintOf(() =>
      run('openssl', ['s_client', '-connect', `127.0.0.1:${gw.port('probe')}`, '-servername', 'localhost', '-CAfile', pki.ca], 5000),
    );
    expect(node1.ja4).toMatch(/^t13d\d{4}00_[0-9a-f]{12}_[0-9a-f]{12}$/);
    expect(node2).toEqual(node1);
    expect(openssl.ja4).not.toBe(node1.ja4);
    expect(openssl.ja3).not.toBe(node1.ja3);
  });

  it('routes on the fingerprint: node (MQTT.js) to the known route, mosquitto to the other', async () => {
    const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${gw.port('mqtts')}`, {
      ca: [readFileSync(pki.ca)],
      servername: 'localhost',
      reconnectPeriod: 0,
      protocolVersion: 5,
    });
    try {
      const n = backend.requests.length;
      await c.publishAsync('fp/a', 'x', { qos: 1 });
      await backend.waitFor(n + 1);
      expect(backend.requests.at(-1)!.url).toBe('/known/fp/a');
    } finally {
      await c.endAsync();
    }
    const n = backend.requests.length;
    const r = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(gw.port('mqtts')), '-q', '1', '-t', 'fp/b', '-m', 'x', '--cafile', pki.ca]);
    expect(r.code).toBe(0);
    await backend.waitFor(n + 1);
    expect(backend.requests.at(-1)!.url).toBe('/unknown/fp/b');
  });
});

describe('msg.tls', () => {
  it('gives scripts the handshake facts and the client certificate', async () => {
    const n = backend.requests.length;
    const r = await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(gw.port('mqtts')),
      '-V',
      'mqttv5',
      '-q',
      '1',
      '-t',
      'inspect/x',
      '-m',
      'x',
      '--cafile',
      pki.ca,
      '--cert',
      pki.client.cert,
      '--key',
      pki.client.key,
    ]);
    expect(r.code).toBe(0);
    await backend.waitFor(n + 1);
    const tls = JSON.parse(String(backend.requests.at(-1)!.headers['x-tls'])) as Record<string, unknown>;
    expect(tls).toMatchObject({ version: 'TLSv1.3', resumed: false, authorized: true });
    expect(tls.cipher).toMatch(/^TLS_/);
    expect(tls.ja4).toMatch(/^t13/);
    expect(tls.ja3).toMatch(/^[0-9a-f]{32}$/);
    expect(tls.peer).toMatchObject({ subject: 'CN=device-1', issuer: 'CN=thinggate test CA', san: ['URI:urn:dev:1', 'DNS:device-1.test'] });
    const peer = tls.peer as Record<string, string>;
    expect(peer.serial).toMatch(/^[0-9A-F]+$/);
    expect(peer.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(Date.parse(peer.validTo)).toBeGreaterThan(Date.now());
  });
});
