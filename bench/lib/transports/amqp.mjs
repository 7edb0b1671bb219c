/**
 * AMQP 1.0 generator: rhea, one connection per client, one sender link to
 * address bench/c<i>/data, unsettled transfers (at-least-once). The
 * `accepted` disposition is the acknowledgement; `rejected`, `released` and
 * `modified` are refusals.
 */
import rhea from 'rhea';

export class AmqpTransport {
  /** @param {{host:string, port:number, clients:number, window:number}} opts */
  constructor(opts) {
    this.opts = opts;
    this.fireAndForget = false;
    this.errors = [];
    this.links = [];
    this.connections = [];
  }

  get size() {
    return this.opts.clients;
  }

  async open() {
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: this.opts.clients }, (_, i) => {
        const container = rhea.create_container({ id: `bench-${i}` });
        return new Promise((resolve, reject) => {
          // TCP_NODELAY: without it Nagle and delayed ACKs hold small transfers back by tens of ms.
          const conn = container.connect(
            /** @type {import('rhea').ConnectionOptions} */ ({
              host: this.opts.host,
              port: this.opts.port,
              reconnect: false,
              idle_time_out: 0,
              tcp_no_delay: true,
            }),
          );
          this.connections[i] = conn;
          conn.on('connection_error', (ctx) => this.err(`client ${i}: ${ctx.connection.error?.description ?? 'connection error'}`));
          conn.on('disconnected', (ctx) => {
            if (ctx.error) this.err(`client ${i}: disconnected: ${ctx.error.message ?? ctx.error}`);
            reject(new Error(`client ${i} disconnected`));
          });
          const sender = conn.open_sender({ target: { address: `bench/c${i}/data` }, autosettle: true, snd_settle_mode: 0 });
          sender.on('sendable', () => resolve());
          sender.on('accepted', (ctx) => this.settle(ctx, true, 'accepted'));
          sender.on('rejected', (ctx) => this.settle(ctx, false, 'rejected'));
          sender.on('released', (ctx) => this.settle(ctx, false, 'released'));
          sender.on('modified', (ctx) => this.settle(ctx, false, 'modified'));
          sender.on('sender_error', (ctx) => this.err(`client ${i}: ${ctx.sender.error?.description ?? 'link error'}`));
          this.links[i] = sender;
        });
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    return { connected: this.opts.clients, seconds, perSecond: this.opts.clients / seconds };
  }

  err(message) {
    if (this.errors.length < 20) this.errors.push(message);
  }

  settle(ctx, ok, code) {
    const done = ctx.delivery.bench;
    if (!done) return;
    ctx.delivery.bench = undefined;
    done(ok, code);
  }

  window(_i) {
    return this.opts.window;
  }

  send(i, payload, done) {
    const link = this.links[i];
    // Credit is the server's window (AMQP 1.0 §2.6.7); the generator's own window is below it.
    const delivery = link.send({ body: rhea.message.data_section(payload), content_type: 'application/json' });
    delivery.bench = done;
  }

  async close() {
    for (const c of this.connections) c?.close();
  }
}
