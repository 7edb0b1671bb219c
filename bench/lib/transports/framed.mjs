/**
 * A load generator for plugins/framed-tcp: one TCP socket per client speaking
 * the worked example's framing (u16 big-endian length | 6-byte device id |
 * u16 sequence | body), `frameBytes` bytes per frame in all. A frame is done
 * when its acknowledgement (header echoed, then 0x06; 0x15 is a refusal)
 * comes back. The body is the bench message (payload.mjs) cut to fit: its
 * head (phase, client, sequence, send time) and as much padding as fits,
 * closed with `"}` — copied from the message's bytes, no re-encoding. The
 * frames of one event-loop turn leave in one write, as in transports/mqtt.mjs.
 */
import { connect } from 'node:net';
import { encodePayload } from '../payload.mjs';

const HEADER = 8;
const PAD_MARK = Buffer.from(',"d":"', 'latin1');
const CLOSE = Buffer.from('"}', 'latin1');

export class FramedTransport {
  /** @param {{host:string, port:number, clients:number, window:number, frameBytes?:number}} opts */
  constructor(opts) {
    this.opts = opts;
    this.fireAndForget = false;
    this.bodyBytes = (opts.frameBytes ?? 64) - 2 - HEADER;
    this.clients = [];
    this.errors = [];
  }

  get size() {
    return this.clients.length;
  }

  async open() {
    const t0 = performance.now();
    for (let i = 0; i < this.opts.clients; i++) this.clients.push(await this.connectOne(i));
    const seconds = (performance.now() - t0) / 1000;
    return { connected: this.clients.length, seconds, perSecond: this.clients.length / seconds };
  }

  connectOne(i) {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.opts.host, port: this.opts.port, noDelay: true });
      const device = Buffer.alloc(6);
      device.writeUInt32BE(i, 2);
      const c = { socket, device, seq: 0, pending: new Map(), inbuf: Buffer.alloc(0), out: [] };
      c.flush = () => {
        const frames = c.out;
        c.out = [];
        if (frames.length > 0) socket.write(frames.length === 1 ? frames[0] : Buffer.concat(frames));
      };
      socket.once('connect', () => resolve(c));
      socket.once('error', reject);
      socket.on('error', (err) => this.errors.length < 20 && this.errors.push(String(err)));
      socket.on('data', (chunk) => {
        let b = c.inbuf.length ? Buffer.concat([c.inbuf, chunk]) : chunk;
        while (b.length >= 2 && b.length >= 2 + b.readUInt16BE(0)) {
          const len = b.readUInt16BE(0);
          const seq = b.readUInt16BE(2 + 6);
          const ok = b[2 + HEADER] === 0x06;
          const done = c.pending.get(seq);
          c.pending.delete(seq);
          done?.(ok, ok ? undefined : b[2 + HEADER]);
          b = b.subarray(2 + len);
        }
        c.inbuf = b;
      });
    });
  }

  window() {
    return this.opts.window;
  }

  writable(i) {
    return this.clients[i].socket.writableLength < 65536;
  }

  onDrain(i, fn) {
    this.clients[i].socket.once('drain', fn);
  }

  send(i, payload, done) {
    const c = this.clients[i];
    const keep = this.bodyBytes - CLOSE.length;
    const mark = payload.indexOf(PAD_MARK);
    // The message's head must fit whole: cut it where its padding is, else re-encode it shorter.
    const fits = mark >= 0 && mark + PAD_MARK.length <= keep;
    const body = fits ? undefined : this.reencode(payload);
    const seq = (c.seq = (c.seq + 1) & 0xffff);
    const frame = Buffer.allocUnsafe(2 + HEADER + this.bodyBytes);
    frame.writeUInt16BE(HEADER + this.bodyBytes, 0);
    c.device.copy(frame, 2);
    frame.writeUInt16BE(seq, 8);
    if (body) body.copy(frame, 2 + HEADER, 0, this.bodyBytes);
    else {
      payload.copy(frame, 2 + HEADER, 0, keep);
      CLOSE.copy(frame, 2 + HEADER + keep);
    }
    c.pending.set(seq, done);
    c.out.push(frame);
    if (c.out.length === 1) queueMicrotask(c.flush);
  }

  /** @param {Buffer} payload */
  reencode(payload) {
    const m = /"r":(\d+),"c":(\d+),"s":(\d+),"t":(\d+)/.exec(payload.toString('latin1'));
    const body = m ? encodePayload(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), this.bodyBytes) : payload;
    if (body.length >= this.bodyBytes) return body;
    return Buffer.concat([body, Buffer.alloc(this.bodyBytes - body.length, 0x20)]);
  }

  async close() {
    for (const c of this.clients) c.socket.destroy();
  }
}
