/**
 * The coaps listener's DTLS front door over raw UDP: a ClientHello without a
 * valid cookie gets a HelloVerifyRequest and costs no state (RFC 6347
 * §4.2.1); handshakes past the cookie exchange are bounded and time out;
 * plain CoAP on the DTLS port is refused; configuration errors name the path.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { parseConfig } from '../../src/config/load.js';
import type { CoapListener } from '../../src/listeners/coap/listener.js';
import { deepCheck } from '../../src/cli-check.js';

/** A DTLS 1.2 ClientHello offering TLS_PSK_WITH_AES_128_CCM_8, as one record. */
function clientHello(random: Buffer, cookie: Buffer, recordSeq: number): Buffer {
  const body = Buffer.concat([
    Buffer.from([0xfe, 0xfd]),
    random,
    Buffer.from([0]),
    Buffer.from([cookie.length]),
    cookie,
    Buffer.from([0, 2, 0xc0, 0xa8, 1, 0]),
  ]);
  const hs = Buffer.alloc(12);
  hs[0] = 1;
  hs.writeUIntBE(body.length, 1, 3);
  hs.writeUInt16BE(cookie.length > 0 ? 1 : 0, 4);
  hs.writeUIntBE(body.length, 9, 3);
  const frag = Buffer.concat([hs, body]);
  const rec = Buffer.alloc(13);
  rec[0] = 22;
  rec.writeUInt16BE(0xfefd, 1);
  rec.writeUIntBE(recordSeq, 5, 6);
  rec.writeUInt16BE(frag.length, 11);
  return Buffer.concat([rec, frag]);
}

/** `record` (one ClientHello in one fragment) cut into `parts` fragments, one record (and datagram) each (RFC 6347 §4.2.3). */
function fragmented(record: Buffer, parts: number): Buffer[] {
  const seqHi = record.readUIntBE(5, 6);
  const hs = record.subarray(13, 25);
  const body = record.subarray(25);
  const size = Math.ceil(body.length / parts);
  const out: Buffer[] = [];
  for (let i = 0, off = 0; off < body.length; i++, off += size) {
    const piece = body.subarray(off, off + size);
    const h = Buffer.from(hs);
    h.writeUIntBE(off, 6, 3);
    h.writeUIntBE(piece.length, 9, 3);
    const rec = Buffer.from(record.subarray(0, 13));
    rec.writeUIntBE(seqHi + i, 5, 6);
    rec.writeUInt16BE(h.length + piece.length, 11);
    out.push(Buffer.concat([rec, h, piece]));
  }
  return out;
}

class RawDtls {
  readonly sock: Socket = createSocket('udp4');
  readonly inbox: Buffer[] = [];
  constructor(private readonly port: number) {}
  async open(): Promise<this> {
    this.sock.on('message', (b) => this.inbox.push(b));
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', r));
    return this;
  }
  send(b: Buffer): void {
    this.sock.send(b, this.port, '127.0.0.1');
  }
  async next(): Promise<Buffer> {
    await vi.waitFor(() => expect(this.inbox.length).toBeGreaterThan(0), { timeout: 3000, interval: 5 });
    return this.inbox.shift()!;
  }
  /** Sends a ClientHello, answers the HelloVerifyRequest with its cookie: a handshake past the cookie exchange. */
  async handshake(): Promise<Buffer> {
    const random = Buffer.alloc(32, Math.floor(Math.random() * 256));
    this.send(clientHello(random, Buffer.alloc(0), 0));
    const hvr = await this.next();
    const cookie = hvr.subarray(13 + 12 + 3, 13 + 12 + 3 + hvr[13 + 12 + 2]!);
    this.send(clientHello(random, cookie, 1));
    return this.next();
  }
  close(): void {
    this.sock.close();
  }
}

let gw: TestGateway;
let port: number;
const clients: RawDtls[] = [];
const listener = (): CoapListener => gw.gateway.listener('coaps') as CoapListener;

beforeAll(async () => {
  gw = await startGateway({
    listeners: [
      {
        name: 'coaps',
        protocol: 'coap',
        host: '127.0.0.1',
        port: 0,
        dtls: { psk: [{ identity: 'dev1', key: 'secret' }], maxHandshakes: 4, handshakeTimeoutMs: 1000, retransmitMs: 5000 },
      },
      {
        name: 'coaps-rt',
        protocol: 'coap',
        host: '127.0.0.1',
        port: 0,
        dtls: { psk: [{ identity: 'dev1', key: 'secret' }], handshakeTimeoutMs: 5000, retransmitMs: 100 },
      },
    ],
    pools: [{ name: 'be', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
    routes: [{ match: { address: '#' }, pool: 'be' }],
  });
  port = gw.port('coaps');
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(async () => {
  await gw?.stop();
});

const client = async (): Promise<RawDtls> => {
  const c = await new RawDtls(port).open();
  clients.push(c);
  return c;
};

describe('coaps HelloVerifyRequest (RFC 6347 §4.2.1)', () => {
  it('answers a cookie-less ClientHello with a HelloVerifyRequest echoing its record sequence number, keeping no state', async () => {
    const c = await client();
    const before = listener().dtlsState()!.helloVerifyRequests;
    c.send(clientHello(Buffer.alloc(32, 1), Buffer.alloc(0), 7));
    const hvr = await c.next();
    expect(hvr[0]).toBe(22); // handshake record
    expect(hvr.readUIntBE(5, 6)).toBe(7); // the ClientHello's record sequence number
    expect(hvr[13]).toBe(3); // hello_verify_request
    expect(hvr[13 + 12 + 2]).toBe(16); // cookie length
    expect(listener().dtlsState()).toMatchObject({ associations: 0, halfOpen: 0, helloVerifyRequests: before + 1 });
  });

  it('a flood of cookie-less or forged-cookie ClientHellos costs no state', async () => {
    const c = await client();
    for (let i = 0; i < 200; i++) c.send(clientHello(Buffer.alloc(32, i), i % 2 === 0 ? Buffer.alloc(0) : Buffer.alloc(16, i), i));
    await vi.waitFor(() => expect(c.inbox.length).toBe(200), { timeout: 5000, interval: 10 });
    expect(c.inbox.every((b) => b[13] === 3)).toBe(true);
    expect(listener().dtlsState()).toMatchObject({ associations: 0, halfOpen: 0 });
  });

  it('a valid cookie starts the handshake: ServerHello and ServerHelloDone', async () => {
    const c = await client();
    const flight = await c.handshake();
    expect(flight[13]).toBe(2); // server_hello
    expect(flight.includes(Buffer.from([14, 0, 0, 0]))).toBe(true); // server_hello_done, empty
    expect(listener().dtlsState()!.halfOpen).toBe(1);
    // Repeated ClientHellos from one endpoint replace its handshake: state does not grow.
    await c.handshake();
    await c.handshake();
    expect(listener().dtlsState()!.halfOpen).toBe(1);
    await vi.waitFor(() => expect(listener().dtlsState()!.halfOpen).toBe(0), { timeout: 5000, interval: 20 });
  });
});

describe('coaps fragmented ClientHello (RFC 6347 §4.2.3)', () => {
  it('reassembles a ClientHello split across datagrams, out of order, before and after the cookie exchange', async () => {
    const c = await client();
    const random = Buffer.alloc(32, 0x5a);
    const first = fragmented(clientHello(random, Buffer.alloc(0), 0), 3);
    c.send(first[2]!);
    c.send(first[0]!);
    c.send(first[1]!);
    const hvr = await c.next();
    expect(hvr[13]).toBe(3); // hello_verify_request: the three fragments made one ClientHello
    const cookie = hvr.subarray(13 + 12 + 3, 13 + 12 + 3 + hvr[13 + 12 + 2]!);
    for (const part of fragmented(clientHello(random, cookie, 1), 4)) c.send(part);
    const flight = await c.next();
    expect(flight[13]).toBe(2); // server_hello
    expect(listener().dtlsState()!.halfOpen).toBe(1);
    await vi.waitFor(() => expect(listener().dtlsState()!.halfOpen).toBe(0), { timeout: 5000, interval: 20 });
  });

  it('keeps nothing of a fragment whose rest never comes, and refuses an oversized one', async () => {
    const c = await client();
    const parts = fragmented(clientHello(Buffer.alloc(32, 0x6b), Buffer.alloc(0), 0), 2);
    c.send(parts[0]!);
    // An announced length past the bound is refused as malformed, without allocating it.
    const huge = Buffer.from(parts[0]!);
    huge.writeUIntBE(20_000, 14, 3);
    c.send(huge);
    // A complete ClientHello from the same endpoint still gets its HelloVerifyRequest.
    c.send(clientHello(Buffer.alloc(32, 0x6c), Buffer.alloc(0), 5));
    const hvr = await c.next();
    expect(hvr[13]).toBe(3);
    expect(c.inbox).toHaveLength(0);
  });
});

describe('coaps flight retransmission (RFC 6347 §4.2.4)', () => {
  it('retransmits the server flight on its timer, with fresh record sequence numbers and a doubling timer', async () => {
    const c = await new RawDtls(gw.port('coaps-rt')).open();
    clients.push(c);
    const first = await c.handshake();
    const again = await c.next();
    expect(again[13]).toBe(2); // ServerHello again, without any client datagram
    const firstRecord = (d: Buffer): Buffer => d.subarray(13, 13 + d.readUInt16BE(11));
    expect(firstRecord(again).equals(firstRecord(first))).toBe(true); // the same ServerHello
    expect(again.readUIntBE(5, 6)).toBeGreaterThan(first.readUIntBE(5, 6)); // new record sequence number
    // The timer doubles: the next retransmission comes later than the first.
    const t0 = Date.now();
    await c.next();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
  });
});

describe('coaps half-open handshakes', () => {
  it('bounds handshakes from one address (many ports) at maxHandshakes, reports the flood, and times them out', async () => {
    const floods = await gw.guardEvents('flood', 'coaps');
    const timeouts = gw.logs.filter((l) => String(l.detail).includes('handshake time-out')).length;
    const many = await Promise.all(Array.from({ length: 8 }, () => client()));
    const random = Buffer.alloc(32, 9);
    // Every cookie first, then every ClientHello with its cookie at once: all within the time-out.
    const cookies = await Promise.all(
      many.map(async (c) => {
        c.send(clientHello(random, Buffer.alloc(0), 0));
        const hvr = await c.next();
        return hvr.subarray(28, 28 + hvr[27]!);
      }),
    );
    many.forEach((c, i) => c.send(clientHello(random, cookies[i]!, 1)));
    await vi.waitFor(() => expect(many.filter((c) => c.inbox.length > 0).length).toBe(4), { timeout: 3000, interval: 10 });
    const answered = many.filter((c) => c.inbox.length > 0).length;
    expect(answered).toBe(4);
    expect(listener().dtlsState()!.halfOpen).toBe(4);
    await vi.waitFor(async () => expect(await gw.guardEvents('flood', 'coaps')).toBe(floods + 4), { timeout: 3000 });
    // handshakeTimeoutMs: the half-open handshakes are dropped and reported.
    await vi.waitFor(() => expect(listener().dtlsState()).toMatchObject({ associations: 0, halfOpen: 0 }), { timeout: 5000, interval: 20 });
    await vi.waitFor(() => expect(gw.logs.filter((l) => String(l.detail).includes('handshake time-out')).length).toBe(timeouts + 4), { timeout: 5000 });
  });

  it('refuses plain CoAP on the DTLS port with a malformed-packet event', async () => {
    const before = await gw.guardEvents('malformed-packet', 'coaps');
    const c = await client();
    c.send(Buffer.from([0x40, 0x01, 0x12, 0x34])); // CoAP CON GET
    await vi.waitFor(async () => expect(await gw.guardEvents('malformed-packet', 'coaps')).toBe(before + 1), { timeout: 3000 });
    expect(c.inbox).toEqual([]);
  });
});

describe('coaps configuration', () => {
  const parse = (listener: Record<string, unknown>): unknown =>
    parseConfig(
      {
        listeners: [{ name: 'l', protocol: 'coap', port: 5684, ...listener }],
        pools: [{ name: 'be', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
        routes: [{ match: { address: '#' }, pool: 'be' }],
      },
      { source: '<test>', baseDir: process.cwd(), env: {} },
    );

  it('names the path of each problem', () => {
    expect(() => parse({ dtls: {} })).toThrow(/\/listeners\/0\/dtls: needs psk entries or cert and key/);
    expect(() => parse({ dtls: { psk: [{ identity: 'a' }] } })).toThrow(/\/listeners\/0\/dtls\/psk\/0: give exactly one of key or keyFile/);
    expect(() => parse({ dtls: { cert: 'c.pem' } })).toThrow(/\/listeners\/0\/dtls\/key: cert and key go together/);
    expect(() => parse({ dtls: { psk: [{ identity: 'a', key: 'k' }], ca: 'ca.pem' } })).toThrow(
      /\/listeners\/0\/dtls\/ca: client certificates need certificate mode/,
    );
    expect(() => parse({ dtls: { cert: 'c.pem', key: 'k.pem', crl: 'r.crl' } })).toThrow(/\/listeners\/0\/dtls\/crl: needs ca/);
    expect(() => parse({ protocol: 'mqtt', dtls: { psk: [{ identity: 'a', key: 'k' }] } })).toThrow(/\/listeners\/0\/dtls: only a coap listener speaks DTLS/);
    expect(() => parse({ dtls: { psk: [{ identity: 'a', key: 'k' }], mtu: 10 } })).toThrow(/mtu/);
    expect(() => parse({ dtls: { psk: [{ identity: 'a', key: 'k' }] }, auth: [{ type: 'x509' }] })).toThrow(/x509 needs dtls.ca/);
    expect(parse({ dtls: { psk: [{ identity: 'a', key: 'k' }] } })).toBeDefined();
  });

  it('thinggate check reads the DTLS files and names what is wrong', async () => {
    const config = parse({ dtls: { psk: [{ identity: 'a', key: 'k' }], cert: 'missing.crt', key: 'missing.key' } }) as Parameters<typeof deepCheck>[0];
    const problems = await deepCheck(config);
    expect(problems).toEqual([expect.stringMatching(/\/listeners\/0: listener 'l': \/dtls\/cert 'missing.crt': ENOENT/)]);
  });

  it('refuses to start with unreadable DTLS material, naming the file', async () => {
    await expect(
      startGateway({
        listeners: [{ name: 'bad', protocol: 'coap', host: '127.0.0.1', port: 0, dtls: { psk: [{ identity: 'a', keyFile: '/nonexistent/psk.key' }] } }],
        pools: [{ name: 'be', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
        routes: [{ match: { address: '#' }, pool: 'be' }],
      }),
    ).rejects.toThrow(/listener 'bad': \/dtls\/psk\/0\/keyFile '\/nonexistent\/psk.key'/);
  });
});
