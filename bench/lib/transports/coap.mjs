/**
 * CoAP generator: node-coap's client, one Agent (one UDP socket, so one
 * device to the server) per client, confirmable POSTs to
 * /bench/c<i>/data. A 2.xx response is the acknowledgement (RFC 7252 §5.2:
 * the piggybacked or separate response follows the gateway's outcome).
 */
import coap from 'coap';

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
    for (let i = 0; i < this.opts.clients; i++) this.agents.push(new coap.Agent({ type: 'udp4' }));
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
  }
}
