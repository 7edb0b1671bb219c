/**
 * The admin connections list shows each TLS and DTLS connection's handshake
 * facts: an MQTT client over TLS (version, suite, JA4, filterable by JA4) and
 * a coaps client (DTLS version, suite, PSK identity), which an operator can
 * also close (close_notify).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFile } from 'node:child_process';
import mqtt from 'mqtt';
import { startAdminBed, type AdminBed } from './admin-support.js';
import { selfSignedCert, type TestCert } from '../helpers/tls.js';
import type { CoapListener } from '../../src/listeners/coap/listener.js';

interface Listing {
  total: number;
  connections: Array<{ listener: string; clientId: string; identity?: string; tls?: Record<string, unknown> }>;
}

let bed: AdminBed;
let cert: TestCert;

beforeAll(async () => {
  cert = selfSignedCert();
  bed = await startAdminBed({
    listeners: [
      { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0, tls: { cert: cert.cert, key: cert.key } },
      { name: 'coaps', protocol: 'coap', host: '127.0.0.1', port: 0, dtls: { psk: [{ identity: 'sensor-1', key: 'k1' }] } },
    ],
    routes: [
      { match: { address: 'devices/#' }, target: 'devices' },
      { name: 'all', match: { address: '#' }, pool: 'default' },
    ],
  });
});
afterAll(async () => {
  await bed?.close();
  cert?.remove();
});

const list = async (query: string): Promise<Listing> => (await (await bed.api(`/api/v1/connections${query}`)).json()) as Listing;

describe('admin connections with handshake facts', () => {
  it('lists an MQTT-over-TLS connection with version, suite and JA4, filterable by JA4', async () => {
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${bed.gw.port('mqtts')}`, { clientId: 'tls-dev', rejectUnauthorized: false, reconnectPeriod: 0 });
    try {
      const { connections } = await list('?listener=mqtts');
      expect(connections).toHaveLength(1);
      const tls = connections[0]!.tls!;
      expect(tls).toMatchObject({ version: 'TLSv1.3', resumed: false, authorized: false });
      expect(tls.ja4).toMatch(/^t13/);
      expect((await list(`?ja4=${String(tls.ja4)}`)).connections.map((c) => c.clientId)).toEqual(['tls-dev']);
      expect((await list('?ja4=t13d0000xx_000000000000_000000000000')).total).toBe(0);
    } finally {
      await client.endAsync();
    }
  });

  it('lists a coaps association with its PSK identity, and closes it', async () => {
    const port = bed.gw.port('coaps');
    // An observation keeps the association open while the list is read.
    const run = new Promise<string>((resolve) =>
      execFile(
        '/usr/bin/coap-client-openssl',
        ['-u', 'sensor-1', '-k', 'k1', '-s', '4', `coaps://127.0.0.1:${port}/devices/s1/cmd`],
        { timeout: 15_000 },
        (_e, out) => resolve(String(out)),
      ),
    );
    await vi.waitFor(async () => expect((await list('?listener=coaps')).total).toBe(1), { timeout: 8000, interval: 50 });
    const [c] = (await list('?listener=coaps')).connections;
    expect(c).toMatchObject({ identity: 'sensor-1', tls: { version: 'DTLSv1.2', cipher: 'PSK-AES128-CCM8', pskIdentity: 'sensor-1' } });
    // JA4 of a DTLS ClientHello: 'd' for DTLS, 'd2' for DTLS 1.2; filterable like a TLS one.
    expect(c!.tls?.ja4).toMatch(/^dd2[di]\d{4}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$/);
    expect((await list(`?ja4=${c!.tls!.ja4}`)).total).toBe(1);
    const del = await bed.api(`/api/v1/connections/${encodeURIComponent(c!.clientId)}?listener=coaps`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect((bed.gw.gateway.listener('coaps') as CoapListener).dtlsState()!.associations).toBe(0);
    expect((await list('?listener=coaps')).total).toBe(0);
    await run;
  });
});
