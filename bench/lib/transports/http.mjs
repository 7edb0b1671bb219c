/**
 * The egress-limit "transport": the generator POSTs each message straight to
 * the back-end with undici, as a gateway would, so the suite knows how many
 * messages per second the back-end and the HTTP client can move on this
 * machine at all. A 2xx is the acknowledgement.
 */
import { Pool } from 'undici';

export class HttpTransport {
  /** @param {{url:string, clients:number, window:number, connections:number, pipelining?:number, path?:string}} opts */
  constructor(opts) {
    this.opts = opts;
    this.fireAndForget = false;
    this.errors = [];
    this.pool = new Pool(opts.url, { connections: opts.connections, pipelining: opts.pipelining ?? 1, keepAliveTimeout: 60_000 });
    this.paths = Array.from({ length: opts.clients }, (_, i) => `/messages/bench/c${i}/data`);
  }

  get size() {
    return this.opts.clients;
  }

  async open() {
    return { connected: this.opts.clients, seconds: 0, perSecond: null };
  }

  window() {
    return this.opts.window;
  }

  send(i, payload, done) {
    this.pool.request({ method: 'POST', path: this.paths[i], headers: { 'content-type': 'application/json' }, body: payload }).then(
      async (res) => {
        await res.body.dump();
        done(res.statusCode >= 200 && res.statusCode < 300, res.statusCode);
      },
      (err) => {
        if (this.errors.length < 20) this.errors.push(err.message);
        done(false, err.code ?? 'error');
      },
    );
  }

  async close() {
    await this.pool.close();
  }
}
