/**
 * CoAP generator: node-coap's client, one Agent (one UDP socket, so one
 * device to the server) per client, confirmable POSTs to
 * /bench/c<i>/data. A 2.xx response is the acknowledgement (RFC 7252 §5.2:
 * the piggybacked or separate response follows the gateway's outcome).
 *
 * Each Agent is given its own bound socket: left to itself, an Agent closes
 * its socket whenever it has nothing in flight and opens a new one (a new
 * source port, a new random message id) for the next request, so at open-loop
 * rates every client would look like a new device every few messages.
 */
import coap from 'coap';
import { createSocket } from 'node:dgram';

export class CoapTransport {
  /** @param {{host:string, port:number, clients:number, window:number, confirmable?:boolean}} opts */
  constructor(opts) {
    this.opts = opts;
    this.fireAndForget = opts.confirmable === false;
    this.errors = [];
    this.agents = [];
  }

  get size() {
    return this.opts.clients;
  }

  async open() {
    this.sockets = await Promise.all(
      Array.from(
        { length: this.opts.clients },
        () =>
          new Promise((resolve) => {
            const socket = createSocket('udp4');
            socket.bind(0, '127.0.0.1', () => resolve(socket));
          }),
      ),
    );
    for (const socket of this.sockets) this.agents.push(new coap.Agent({ type: 'udp4', socket }));
    return { connected: this.opts.clients, seconds: 0, perSecond: null };
  }

  window() {
    return this.opts.window;
  }

  writable() {
    return true;
  }

  send(i, payload, done) {
    const req = coap.request({
      hostname: this.opts.host,
      port: this.opts.port,
      method: 'POST',
      pathname: `/bench/c${i}/data`,
      confirmable: this.opts.confirmable !== false,
      agent: this.agents[i],
    });
    req.setOption('Content-Format', 'application/json');
    let settled = false;
    const finish = (ok, code) => {
      if (settled) return;
      settled = true;
      done(ok, code);
    };
    req.on('response', (res) => {
      finish(String(res.code).startsWith('2.'), res.code);
      res.resume?.();
    });
    req.on('error', (err) => {
      if (this.errors.length < 20) this.errors.push(err.message);
      finish(false, 'error');
    });
    req.on('timeout', () => finish(false, 'timeout'));
    req.end(payload);
  }

  async close() {
    for (const a of this.agents) a.close?.();
    for (const s of this.sockets ?? []) s.close();
  }
}
