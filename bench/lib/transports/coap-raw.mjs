/**
 * A light CoAP generator with pre-built datagrams, over plain UDP or over
 * DTLS 1.2 PSK (TLS_PSK_WITH_AES_128_CCM_8, bench/handshakes/dtls-client.mjs
 * on thinggate's own DTLS primitives): one socket (one device, one DTLS
 * association) per client, confirmable POSTs to /bench/c<i>/data. The same
 * CoAP code runs with and without DTLS, so `coaps-con-rest` against
 * `coap-con-rest-raw` shows what DTLS costs.
 *
 * A 2.xx response is the acknowledgement; a separate response (empty ACK,
 * then a CON) is acknowledged when the CON arrives. A request unanswered is
 * sent again, same message id (RFC 7252 §4.2: the server's deduplication
 * answers a duplicate from its cache), every RESEND_MS, and fails with
 * 'timeout' after MAX_SENDS sends.
 */
import { createSocket } from 'node:dgram';
import { DtlsPskClient } from '../../handshakes/dtls-client.mjs';

const RESEND_MS = 1000;
const MAX_SENDS = 5;
/** Concurrent DTLS handshakes while opening (a loaded host answers a burst of 50 slowly). */
const HANDSHAKES_AT_ONCE = 5;

/** CON POST /bench/c<i>/data, Content-Format 50 (application/json), 4-byte token; message id and token patched per send. */
function header(i) {
  const seg = Buffer.from(`c${i}`);
  return Buffer.concat([
    Buffer.from([0x44, 0x02, 0, 0, 0, 0, 0, 0]),
    Buffer.from([0xb5]),
    Buffer.from('bench'), // Uri-Path (11)
    Buffer.from([seg.length]),
    seg,
    Buffer.from([0x04]),
    Buffer.from('data'),
    Buffer.from([0x11, 50]), // Content-Format (12)
    Buffer.from([0xff]),
  ]);
}

export class RawCoapTransport {
  /** @param {{host:string, port:number, clients:number, window:number, dtls?:{identity:string, key:string}}} opts */
  constructor(opts) {
    this.opts = opts;
    this.fireAndForget = false;
    this.errors = [];
    /** per client: { send(buf), close(), header, mid } */
    this.clients = [];
    /** token → { done, at } */
    this.pending = new Map();
    this.token = 0;
  }

  get size() {
    return this.opts.clients;
  }

  async open() {
    const t0 = performance.now();
    this.clients = new Array(this.opts.clients);
    let next = 0;
    const worker = async () => {
      while (next < this.opts.clients) {
        const i = next++;
        this.clients[i] = await this.connect(i);
      }
    };
    await Promise.all(Array.from({ length: this.opts.dtls ? HANDSHAKES_AT_ONCE : this.opts.clients }, worker));
    this.sweeper = setInterval(() => this.sweep(), 250);
    const seconds = (performance.now() - t0) / 1000;
    return { connected: this.clients.length, seconds, perSecond: this.opts.dtls ? this.clients.length / seconds : null };
  }

  async connect(i) {
    const { host, port, dtls } = this.opts;
    const base = { header: header(i), mid: (i * 9973) & 0xffff };
    if (dtls) {
      // The bench client does not retransmit its flights (RFC 6347 §4.2.4): a handshake that
      // loses a datagram on a loaded host is started again on a new socket, a few times.
      for (let attempt = 1; ; attempt++) {
        const c = new DtlsPskClient(port, dtls.identity, dtls.key, 10_000);
        await c.open();
        c.sock.setRecvBufferSize(4 * 1024 * 1024);
        try {
          await c.connect((m) => this.receive(i, m));
          return { ...base, send: (b) => c.sendApp(b), close: () => c.close() };
        } catch (err) {
          c.close();
          if (attempt === 5) throw err;
        }
      }
    }
    const sock = createSocket('udp4');
    await new Promise((r) => sock.bind(0, '127.0.0.1', () => r(undefined)));
    sock.setRecvBufferSize(4 * 1024 * 1024);
    sock.on('message', (m) => this.receive(i, m));
    return { ...base, send: (b) => sock.send(b, port, host), close: () => sock.close() };
  }

  window() {
    return this.opts.window;
  }

  writable() {
    return true;
  }

  send(i, payload, done) {
    const c = this.clients[i];
    const token = (this.token = (this.token + 1) >>> 0);
    c.mid = (c.mid + 1) & 0xffff;
    const b = Buffer.concat([c.header, payload]);
    b.writeUInt16BE(c.mid, 2);
    b.writeUInt32BE(token, 4);
    this.pending.set(token, { done, at: performance.now(), sends: 1, i, datagram: b });
    c.send(b);
  }

  receive(i, m) {
    if (m.length < 4) return;
    const code = m[1];
    if (code === 0) return; // empty ACK of a separate response: the CON follows
    if (((m[0] >> 4) & 3) === 0) this.clients[i].send(Buffer.from([0x60, 0, m[2], m[3]]));
    if ((m[0] & 0x0f) !== 4 || m.length < 8) return;
    const token = m.readUInt32BE(4);
    const p = this.pending.get(token);
    if (!p) return;
    this.pending.delete(token);
    const ok = code >> 5 === 2;
    if (!ok && this.errors.length < 20) this.errors.push(`CoAP ${code >> 5}.${String(code & 31).padStart(2, '0')}`);
    p.done(ok, code);
  }

  sweep() {
    const now = performance.now();
    for (const [token, p] of this.pending) {
      if (now - p.at < RESEND_MS * p.sends) continue;
      if (p.sends < MAX_SENDS) {
        p.sends++;
        this.clients[p.i].send(p.datagram);
        continue;
      }
      this.pending.delete(token);
      p.done(false, 'timeout');
    }
  }

  async close() {
    clearInterval(this.sweeper);
    for (const c of this.clients) c.close();
  }
}
