/**
 * The security log under attack: a flood from one address is one warning
 * and a summary (the counter counts all), failed TLS handshakes are logged
 * at info with their reason, and rhea's own output is JSON lines too.
 */
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import rhea from 'rhea';
import type { TestGateway } from '../helpers/gateway.js';
import { startTlsBed, type TlsBed } from '../helpers/tls.js';

/** Long enough that the flood below (one burst) never leaves a whole interval without an event. */
const SUMMARY_MS = 1000;

let gw: TestGateway;
let bed: TlsBed;
// Spied on before the AMQP listener starts, so rhea's routing wraps the spy: what rhea writes must not reach it.
const consoleError = vi.spyOn(console, 'error');

beforeAll(async () => {
  bed = await startTlsBed((tls, backendUrl) => ({
    listeners: [
      { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
      { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0, tls },
      { name: 'https', protocol: 'http', host: '127.0.0.1', port: 0, tls },
      { name: 'amqps', protocol: 'amqp', host: '127.0.0.1', port: 0, tls: { ...tls, minVersion: 'TLSv1.3' } },
      { name: 'amqp', protocol: 'amqp', host: '127.0.0.1', port: 0, limits: { maxInflight: 1 } },
    ],
    pools: [{ name: 'default', endpoints: [{ url: backendUrl }] }],
    routes: [{ match: { address: '#' }, pool: 'default' }],
    log: { securitySummaryIntervalMs: SUMMARY_MS },
  }));
  gw = bed.gw;
});

afterAll(async () => {
  await bed?.close();
  consoleError.mockRestore();
});

/** Opens a socket, writes `bytes`, resolves once the gateway has closed it. */
function sendAndWaitClose(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1', () => s.write(bytes));
    s.on('error', () => undefined);
    s.on('close', () => resolve());
  });
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('security log', () => {
  it('writes one warning and one summary with the count for a flood of malformed packets from one address', async () => {
    const FLOOD = 40;
    // A remaining length longer than four bytes [MQTT-1.5.5-1]: every connection is closed at its first packet.
    const bad = Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    await Promise.all(Array.from({ length: FLOOD }, () => sendAndWaitClose(gw.port('mqtt'), bad)));
    expect(await gw.guardEvents('malformed-packet', 'mqtt')).toBe(FLOOD);
    const mine = (l: Record<string, unknown>): boolean => l.listener === 'mqtt' && l.kind === 'malformed-packet';
    await until(() => gw.logs.some((l) => mine(l) && l.event === 'security-summary'));
    const warnings = gw.logs.filter((l) => mine(l) && l.event === 'security');
    const summaries = gw.logs.filter((l) => mine(l) && l.event === 'security-summary');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, remoteAddress: '127.0.0.1', clause: 'MQTT-1.5.5-1' });
    // The flood may straddle a summary tick: the summaries add up to every event not logged in full.
    expect(summaries.reduce((n, s) => n + Number(s.suppressed), 0)).toBe(FLOOD - 1);
    expect(summaries[0]).toMatchObject({ level: 40, remoteAddress: '127.0.0.1', intervalMs: SUMMARY_MS });
  });

  it.each([
    [
      'mqtts',
      'an MQTT CONNECT',
      Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]),
      /not a TLS record: plain text/,
    ],
    ['https', 'an HTTP request', Buffer.from('POST /ingress/x HTTP/1.1\r\nhost: x\r\n\r\n'), /plain-text HTTP request on a TLS port/],
  ])('logs plain text on a TLS port (%s: %s) at info with its reason, and closes it', async (listener, _what, bytes, reason) => {
    await sendAndWaitClose(gw.port(listener), bytes);
    await until(() => gw.logs.some((l) => l.listener === listener && l.kind === 'tls-handshake-failure'));
    const line = gw.logs.find((l) => l.listener === listener && l.kind === 'tls-handshake-failure')!;
    expect(line).toMatchObject({ level: 30, event: 'security', remoteAddress: '127.0.0.1' });
    expect(String(line.detail)).toMatch(reason);
    expect(await gw.guardEvents('tls-handshake-failure', listener)).toBe(1);
  });

  it('names an unsupported TLS version', async () => {
    const s = tlsConnect({ port: gw.port('amqps'), host: '127.0.0.1', rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
    await new Promise<void>((resolve) => {
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
    await until(() => gw.logs.some((l) => l.listener === 'amqps' && l.kind === 'tls-handshake-failure'));
    const line = gw.logs.find((l) => l.listener === 'amqps' && l.kind === 'tls-handshake-failure')!;
    expect(line).toMatchObject({ level: 30 });
    expect(String(line.detail)).toMatch(/unsupported TLS version/);
  });

  it('routes what rhea writes (console and debug) through the JSON log', async () => {
    // rhea's `debug` output, as DEBUG=rhea:frames would enable it.
    const frames = (createRequire(import.meta.url)('rhea/lib/log.js') as Record<string, { enabled: boolean | null }>).frames!;
    frames.enabled = true;
    const container = rhea.create_container();
    container.on('error', () => undefined);
    container.on('disconnected', () => undefined);
    const conn = container.connect({ port: gw.port('amqp'), host: '127.0.0.1', reconnect: false });
    try {
      const sender = conn.open_sender({ target: { address: 'telemetry/x' } });
      await new Promise<void>((resolve) => sender.once('sendable', () => resolve()));
      // Three transfers against the credit of one (limits.maxInflight) the gateway granted: the client is made to
      // overrun it, and rhea on the gateway's side writes a console line for each transfer beyond it.
      (sender as unknown as { credit: number }).credit = 3;
      for (let i = 0; i < 3; i++) sender.send({ body: `m${i}` });
      await until(() => gw.logs.some((l) => l.lib === 'rhea' && /Received transfer when credit was 0/.test(String(l.msg))));
    } finally {
      frames.enabled = null;
      conn.close();
    }
    const rheaLines = gw.logs.filter((l) => l.lib === 'rhea' && /Received transfer when credit/.test(String(l.msg)));
    expect(rheaLines[0]).toMatchObject({ level: 40, listener: 'amqp' });
    expect(gw.logs.some((l) => l.lib === 'rhea' && l.namespace === 'rhea:frames' && l.level === 20 && !/rhea:frames/.test(String(l.msg)))).toBe(true);
    expect(consoleError.mock.calls.filter((args) => /Received transfer/.test(String(args[0])))).toEqual([]);
  });
});
