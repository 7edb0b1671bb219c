/**
 * Fingerprint bans through /api/v1/bans: a banned JA4 (ClientHello) is
 * dropped right after the TLS handshake, before CONNACK, on MQTT over TLS;
 * lifting the ban admits it again. Malformed fingerprints are refused 400.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { startTlsBed, type TlsBed } from '../helpers/tls.js';
import { until } from '../helpers/run.js';

let bed: TlsBed;

beforeAll(async () => {
  bed = await startTlsBed((tls, url) => ({
    listeners: [{ name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0, tls }],
    pools: [{ name: 'be', endpoints: [{ url }] }],
    routes: [{ match: { address: '#' }, pool: 'be', request: { method: 'POST', path: '/m/{address}' } }],
    admin: { host: '127.0.0.1', port: 0 },
  }));
});

afterAll(async () => {
  await bed?.close();
});

/** 0 when admitted, -1 when closed without a CONNACK. */
function connectTls(clientId: string): Promise<number> {
  return new Promise((resolve) => {
    const c = mqtt.connect(`mqtts://127.0.0.1:${bed.gw.port('mqtts')}`, { clientId, protocolVersion: 5, reconnectPeriod: 0, rejectUnauthorized: false });
    c.once('connect', () => (c.end(true), resolve(0)));
    c.once('error', () => (c.end(true), resolve(-1)));
    c.once('close', () => resolve(-1));
  });
}

describe('fingerprint bans', () => {
  it('a JA4 banned through the admin API is dropped after the handshake; lifting it admits again', async () => {
    const api = `http://127.0.0.1:${bed.gw.gateway.adminAddress()!.port}/api/v1/bans`;
    const post = (body: unknown) => fetch(api, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(await connectTls('fp-1')).toBe(0);
    const seen = bed.gw.logs.find((l) => l.event === 'tls-connection') as { tls: { ja4: string } } | undefined;
    const ja4 = seen!.tls.ja4;
    expect((await post({ kind: 'ja4', value: 'not-a-ja4', reason: 'x' })).status).toBe(400);
    expect((await post({ kind: 'certFingerprint', value: 'AB:CD', reason: 'x' })).status).toBe(400);
    const added = await post({ kind: 'ja4', value: ja4.toUpperCase(), ttlSeconds: 600, reason: 'scanner toolkit' });
    expect(added.status).toBe(201);
    const ban = (await added.json()) as { id: string; value: string };
    expect(ban.value).toBe(ja4);
    expect(await connectTls('fp-2')).toBe(-1);
    await until(async () => (await bed.gw.guardEvents('banned', 'mqtts')) >= 1);
    expect((await fetch(`${api}/${ban.id}`, { method: 'DELETE' })).status).toBeLessThan(300);
    expect(await connectTls('fp-3')).toBe(0);
  });
});
