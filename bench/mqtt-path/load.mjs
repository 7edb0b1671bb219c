/**
 * Load generator for the mqtt-path bench, in its own process. Raw MQTT 5
 * clients over TCP with pre-encoded packets (the generator must cost far
 * less than the gateway). Closed loop: each client keeps `window` QoS 1/2
 * PUBLISHes unacknowledged and sends the next on each PUBACK (QoS 2: PUBREL
 * on PUBREC, the next PUBLISH on PUBCOMP). QoS 0 writes as fast as the socket
 * takes it. Open loop (`rate` > 0): one shared 1 ms ticker paces all clients
 * and publish→ack latency is recorded.
 *
 * argv: JSON {port, clients, window, qos, size, rate, codec?}. IPC: {cmd:'mark'} →
 * {acked, sent, lat?}; the latency histogram is reset at each mark.
 * `codec`: 'json' or 'cbor' sends the suite's bench message (bench/lib/payload.mjs)
 * as JSON or encoded as CBOR (still pre-encoded: the generator's cost is the same
 * for both); without it the payload is `size` bytes of 'a'.
 */
import { connect } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { encodePayload } from '../lib/payload.mjs';

const o = JSON.parse(process.argv[2]);
const json = encodePayload(1, 0, 4711, 123456789012345, o.size);
const payload =
  o.codec === 'cbor'
    ? Buffer.from((await import('cbor-x/encode')).encode(JSON.parse(json.toString('latin1'))))
    : o.codec === 'json'
      ? json
      : Buffer.alloc(o.size, 0x61);
let acked = 0;
let sent = 0;
let lat = [];

function encodePublish(topic, id) {
  return mqttPacket.generate({ cmd: 'publish', topic, payload, qos: o.qos, messageId: id || undefined, retain: false, dup: false }, { protocolVersion: 5 });
}

class Client {
  constructor(i) {
    this.i = i;
    this.nextId = 1;
    this.outstanding = 0;
    this.sentAt = new Map();
    this.topic = `devices/dev-${i}/telemetry`;
    // Pre-encode one PUBLISH per packet id used (ids cycle through 1..window*2).
    this.ids = o.window * 2;
    this.packets = [];
    for (let id = 1; id <= this.ids; id++) this.packets.push(encodePublish(this.topic, o.qos ? id : 0));
    this.sock = connect(o.port, '127.0.0.1');
    this.sock.setNoDelay(true);
    this.parser = mqttPacket.parser({ protocolVersion: 5 });
    this.parser.on('packet', (p) => this.onPacket(p));
    this.sock.on('data', (d) => this.parser.parse(d));
    this.sock.on('error', (e) => {
      console.error(`client ${i}: ${e.message}`);
      process.exit(1);
    });
    this.ready = new Promise((r) => (this.onReady = r));
    this.sock.write(
      mqttPacket.generate(
        {
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 5,
          clientId: `bench-${process.pid}-${i}`,
          clean: true,
          keepalive: 60,
          properties: { receiveMaximum: 65535 },
        },
        { protocolVersion: 5 },
      ),
    );
  }
  onPacket(p) {
    if (p.cmd === 'connack') return this.onReady();
    if (p.cmd === 'puback' || p.cmd === 'pubcomp') {
      if (p.reasonCode) {
        console.error(`negative ack ${p.reasonCode}`);
        process.exit(1);
      }
      this.done(p.messageId);
    } else if (p.cmd === 'pubrec') {
      if (p.reasonCode) {
        console.error(`negative pubrec ${p.reasonCode}`);
        process.exit(1);
      }
      this.sock.write(Buffer.from([0x62, 2, p.messageId >> 8, p.messageId & 0xff]));
    }
  }
  done(id) {
    acked++;
    this.outstanding--;
    if (o.rate > 0) {
      const t = this.sentAt.get(id);
      if (t !== undefined) lat.push(Number(process.hrtime.bigint() - t) / 1e3);
      this.sentAt.delete(id);
    } else this.send();
  }
  send() {
    const id = this.nextId;
    this.nextId = id === this.ids ? 1 : id + 1;
    this.outstanding++;
    sent++;
    if (o.rate > 0) this.sentAt.set(id, process.hrtime.bigint());
    return this.sock.write(this.packets[id - 1]);
  }
}

const clients = [];
for (let i = 0; i < o.clients; i++) clients.push(new Client(i));
await Promise.all(clients.map((c) => c.ready));

if (o.qos === 0) {
  // Write while the socket accepts; count back-end receipts on the harness side.
  const pump = (c) => {
    while (c.send());
    c.sock.once('drain', () => pump(c));
  };
  for (const c of clients) pump(c);
} else if (o.rate > 0) {
  // Open loop: one shared ticker; each tick sends what the rate owes, round-robin over clients with room.
  let owed = 0;
  let last = performance.now();
  let rr = 0;
  setInterval(() => {
    const now = performance.now();
    owed += ((now - last) * o.rate) / 1000;
    last = now;
    while (owed >= 1) {
      let tries = 0;
      while (clients[rr].outstanding >= o.window && tries++ < clients.length) rr = (rr + 1) % clients.length;
      if (tries > clients.length) break; // every window full: the excess is not sent (counted as not sent)
      clients[rr].send();
      rr = (rr + 1) % clients.length;
      owed--;
    }
  }, 1);
} else {
  for (const c of clients) for (let k = 0; k < o.window; k++) c.send();
}

process.on('message', (/** @type {any} */ m) => {
  if (m.cmd === 'mark') {
    let p;
    if (lat.length) {
      lat.sort((a, b) => a - b);
      const q = (f) => Math.round(lat[Math.min(lat.length - 1, Math.floor(f * lat.length))]);
      p = { n: lat.length, p50: q(0.5), p99: q(0.99) };
    }
    lat = [];
    process.send({ acked, sent, lat: p });
  }
});
process.send({ ready: true });
process.on('disconnect', () => process.exit(0));
