/**
 * The same publisher written with MQTT.js, kept to measure what the lean
 * generator saves (docs/benchmarks.md, "The generator"): select it with
 * transport kind `mqttjs`.
 */
import mqtt from 'mqtt';

export class MqttJsTransport {
  constructor(opts) {
    this.opts = opts;
    this.qos = opts.qos;
    this.fireAndForget = opts.qos === 0;
    this.errors = [];
    this.clients = [];
  }

  get size() {
    return this.clients.length;
  }

  async open() {
    const t0 = performance.now();
    for (let i = 0; i < this.opts.clients; i++) {
      const c = mqtt.connect({
        host: this.opts.host,
        port: this.opts.port,
        protocolVersion: this.opts.version,
        clientId: `bench-js-${i}`,
        clean: true,
        keepalive: 0,
        reconnectPeriod: 0,
      });
      c.on('error', (err) => this.errors.length < 20 && this.errors.push(err.message));
      await new Promise((resolve, reject) => {
        c.once('connect', resolve);
        c.once('error', reject);
      });
      this.clients.push(c);
    }
    const seconds = (performance.now() - t0) / 1000;
    return { connected: this.clients.length, seconds, perSecond: this.clients.length / seconds };
  }

  window() {
    return this.opts.window;
  }

  writable(i) {
    return this.clients[i].stream.writableLength < 65536;
  }

  onDrain(i, fn) {
    this.clients[i].stream.once('drain', fn);
  }

  send(i, payload, done) {
    this.clients[i].publish(`bench/c${i}/data`, payload, { qos: this.qos }, (err, packet) => {
      const reason = packet?.reasonCode ?? 0;
      done(!err && reason < 0x80, err ? 'error' : reason);
    });
  }

  async close() {
    await Promise.all(this.clients.map((c) => c.endAsync()));
  }
}
