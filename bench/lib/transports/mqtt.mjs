/**
 * A lean MQTT publisher for load generation: one TCP socket per client,
 * PUBLISH frames built by hand (no per-message encoder allocation beyond one
 * Buffer), acknowledgements parsed from the fixed header. mqtt-packet is used
 * only for CONNECT and CONNACK, once per connection.
 *
 * QoS 0: done when written. QoS 1: done on PUBACK. QoS 2: PUBREC → PUBREL →
 * done on PUBCOMP. A reason code ≥ 0x80 (MQTT 5 §3.4.2.1) is a refusal.
 */
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import mqttPacket from 'mqtt-packet';

const PUBACK = 4;
const PUBREC = 5;
const PUBCOMP = 7;
const CONNACK = 2;
const DISCONNECT = 14;

export class MqttTransport {
  /**
   * @param {{host:string, port:number, clients:number, qos:0|1|2, version:4|5, window:number,
   *          clientPrefix?:string, topic?:(i:number)=>string, connectConcurrency?:number,
   *          username?:string, password?:string, localAddress?:string}} opts
   *        `localAddress`: the source address to connect from (e.g. 127.0.0.2, to be another address on loopback)
   */
  constructor(opts) {
    this.opts = opts;
    this.qos = opts.qos;
    this.fireAndForget = opts.qos === 0;
    /** @type {Client[]} */
    this.clients = [];
    this.errors = [];
  }

  get size() {
    return this.clients.length;
  }

  /** Connects every client (bounded concurrency); resolves with connections/s. */
  async open() {
    const { clients, connectConcurrency = 200 } = this.opts;
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < clients) {
        const i = next++;
        const c = new Client(this, i);
        this.clients[i] = c;
        await c.connect();
      }
    };
    await Promise.all(Array.from({ length: Math.min(connectConcurrency, clients) }, worker));
    const seconds = (performance.now() - t0) / 1000;
    return { connected: this.clients.length, seconds, perSecond: this.clients.length / seconds };
  }

  window(i) {
    return this.clients[i].window;
  }

  writable(i) {
    return this.clients[i].socket.writableLength < 65536;
  }

  onDrain(i, fn) {
    this.clients[i].socket.once('drain', fn);
  }

  /** Sends one message from client i; `done(ok, code)` on acknowledgement (at once for QoS 0). */
  send(i, payload, done) {
    this.clients[i].publish(payload, done);
  }

  async close() {
    await Promise.all(
      this.clients.map(
        (c) =>
          new Promise((resolve) => {
            if (c.socket.destroyed) return resolve();
            c.socket.once('close', resolve);
            c.socket.end(Buffer.from([0xe0, 0x00]));
            setTimeout(() => c.socket.destroy(), 1000).unref();
          }),
      ),
    );
  }
}

class Client {
  constructor(transport, index) {
    this.t = transport;
    this.index = index;
    const o = transport.opts;
    this.v5 = o.version === 5;
    this.window = o.window;
    this.topic = Buffer.from(o.topic ? o.topic(index) : `bench/c${index}/data`);
    /** Completion callbacks by packet identifier; allocated on first use (idle clients need none). */
    this.pending = null;
    this.nextId = 1;
    this.inbuf = null;
    this.out = [];
    this.socket = null;
    this.flushFn = () => this.flush();
  }

  connect() {
    const o = this.t.opts;
    return new Promise((resolve, reject) => {
      // `tls`: MQTT over TLS (the certificate is not verified: the bench measures the gateway, not a PKI).
      const s = o.tls
        ? tlsConnect({ host: o.host, port: o.port, noDelay: true, rejectUnauthorized: false, servername: 'localhost', ...o.tls })
        : connect({ host: o.host, port: o.port, noDelay: true, ...(o.localAddress && { localAddress: o.localAddress }) });
      this.socket = s;
      this.onConnack = (ok, info) => (ok ? resolve(info) : reject(new Error(`CONNACK refused: ${JSON.stringify(info)}`)));
      s.once(o.tls ? 'secureConnect' : 'connect', () => {
        /** @type {import('mqtt-packet').IConnectPacket} */
        const packet = {
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: o.version,
          clean: true,
          clientId: `${o.clientPrefix ?? 'bench'}-${this.index}`,
          keepalive: 0,
        };
        if (this.v5) packet.properties = { receiveMaximum: 65535 };
        if (o.username !== undefined) packet.username = o.username;
        if (o.password !== undefined) packet.password = Buffer.from(o.password);
        s.write(mqttPacket.generate(packet, { protocolVersion: o.version }));
      });
      s.on('data', (d) => this.onData(d));
      s.on('error', (err) => {
        this.t.errors.push(`client ${this.index}: ${err.message}`);
        reject(err);
      });
      s.on('close', () => this.failAll('closed'));
    });
  }

  publish(payload, done) {
    if (this.socket.destroyed) {
      queueMicrotask(() => done(false, 'closed'));
      return;
    }
    const q = this.t.qos;
    let id = 0;
    if (q > 0) {
      if (this.pending === null) this.pending = new Array(65536);
      id = this.nextId;
      // Packet identifiers 1..65535 [MQTT-2.2.1-3]; the window keeps reuse far away.
      this.nextId = id === 65535 ? 1 : id + 1;
      this.pending[id] = done;
    }
    const topicLen = this.topic.length;
    const rl = 2 + topicLen + (q > 0 ? 2 : 0) + (this.v5 ? 1 : 0) + payload.length;
    const rlBytes = rl < 128 ? 1 : rl < 16384 ? 2 : 3;
    const buf = Buffer.allocUnsafe(1 + rlBytes + rl);
    let o = 0;
    buf[o++] = 0x30 | (q << 1);
    let x = rl;
    do {
      let b = x & 0x7f;
      x >>>= 7;
      if (x > 0) b |= 0x80;
      buf[o++] = b;
    } while (x > 0);
    buf[o++] = topicLen >> 8;
    buf[o++] = topicLen & 0xff;
    o += this.topic.copy(buf, o);
    if (q > 0) {
      buf[o++] = id >> 8;
      buf[o++] = id & 0xff;
    }
    if (this.v5) buf[o++] = 0; // no properties
    payload.copy(buf, o);
    this.out.push(buf);
    // Coalesce the frames written in one turn of the event loop into one write.
    if (this.out.length === 1) queueMicrotask(this.flushFn);
    if (q === 0) done(true, 0);
  }

  flush() {
    if (this.out.length === 0) return;
    const frames = this.out;
    this.out = [];
    this.socket.write(frames.length === 1 ? frames[0] : Buffer.concat(frames));
  }

  failAll(reason) {
    if (this.pending === null) return;
    const waiting = [];
    for (let id = 1; id < 65536; id++) {
      if (this.pending[id]) waiting.push(this.pending[id]);
      this.pending[id] = undefined;
    }
    for (const done of waiting) done(false, reason);
  }

  onData(d) {
    const buf = this.inbuf ? Buffer.concat([this.inbuf, d]) : d;
    let o = 0;
    while (buf.length - o >= 2) {
      let rl = 0;
      let mul = 1;
      let p = o + 1;
      let b;
      do {
        if (p >= buf.length) {
          this.inbuf = buf.subarray(o);
          return;
        }
        b = buf[p++];
        rl += (b & 0x7f) * mul;
        mul *= 128;
      } while (b & 0x80);
      if (buf.length - p < rl) break;
      this.onFrame(buf[o] >> 4, buf, o, p, rl);
      o = p + rl;
    }
    this.inbuf = o < buf.length ? buf.subarray(o) : null;
  }

  onFrame(type, buf, start, body, rl) {
    switch (type) {
      case PUBACK:
      case PUBCOMP: {
        const id = (buf[body] << 8) | buf[body + 1];
        const reason = rl >= 3 ? buf[body + 2] : 0;
        this.settle(id, reason < 0x80, reason);
        break;
      }
      case PUBREC: {
        const id = (buf[body] << 8) | buf[body + 1];
        const reason = rl >= 3 ? buf[body + 2] : 0;
        if (reason >= 0x80) this.settle(id, false, reason);
        // [MQTT-4.3.3-2] answer PUBREC with PUBREL; PUBCOMP completes the exchange.
        else this.socket.write(Buffer.from([0x62, 0x02, id >> 8, id & 0xff]));
        break;
      }
      case CONNACK: {
        const parser = mqttPacket.parser({ protocolVersion: this.t.opts.version });
        parser.on('packet', (/** @type {any} */ p) => {
          const ok = (p.reasonCode ?? p.returnCode ?? 0) === 0;
          const rm = p.properties?.receiveMaximum;
          // MQTT 5 §3.2.2.3.3: never exceed the server's Receive Maximum.
          if (rm && this.t.qos > 0) this.window = Math.min(this.window, rm);
          this.onConnack(ok, { reasonCode: p.reasonCode ?? p.returnCode, receiveMaximum: rm });
        });
        parser.on('error', (err) => this.onConnack(false, { error: err.message }));
        parser.parse(buf.subarray(start, body + rl));
        break;
      }
      case DISCONNECT:
        this.t.errors.push(`client ${this.index}: DISCONNECT reason ${rl > 0 ? buf[body] : 0}`);
        break;
      default:
        break;
    }
  }

  settle(id, ok, reason) {
    const done = this.pending?.[id];
    if (!done) return;
    this.pending[id] = undefined;
    done(ok, reason);
  }
}
