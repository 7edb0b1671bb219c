/**
 * The keep-alive connections to one endpoint. A request goes to the
 * connection with the fewest requests in flight (the lowest-numbered one on a
 * tie), so requests share a connection (HTTP/1.1 pipelining, up to
 * `pipelining` deep) only once every connection has one in flight.
 *
 * undici's own Pool fills its first connection to the pipelining depth before
 * it uses the next: at moderate load that queues requests behind each other
 * on one connection while others sit idle. Spreading first keeps requests
 * from waiting behind one another until the pool is saturated; from there on
 * several requests and their responses share each read and write, which is
 * what makes a saturated pool cheaper per request (bench/RESULTS.md "suite").
 */
import { Client, type Dispatcher } from 'undici';
import type { ConnectionOptions } from 'node:tls';
import type { IncomingHttpHeaders } from 'node:http';
import { IdleWaiters } from '../util/idle-waiters.js';

export interface ConnectionsOptions {
  readonly connections: number;
  /** Requests in flight per connection at most (1 = no pipelining). */
  readonly pipelining: number;
  /** TLS options for https endpoints (contents already read from files). */
  readonly tls?: ConnectionOptions;
}

export class Connections {
  private readonly clients: Client[];
  /** Requests dispatched to each connection and not yet answered or failed. */
  private readonly running: Int32Array;
  private readonly idle = new IdleWaiters(() => this.inflight === 0);

  constructor(origin: string, options: ConnectionsOptions) {
    this.clients = [];
    for (let i = 0; i < options.connections; i++) {
      this.clients.push(
        new Client(origin, {
          pipelining: options.pipelining,
          keepAliveTimeout: 30_000,
          keepAliveMaxTimeout: 600_000,
          ...(options.tls && { connect: options.tls }),
        }),
      );
    }
    this.running = new Int32Array(options.connections);
  }

  /** Requests in flight over all connections. */
  get inflight(): number {
    let n = 0;
    for (const r of this.running) n += r;
    return n;
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const running = this.running;
    let best = 0;
    for (let i = 1; i < running.length && running[best]! > 0; i++) if (running[i]! < running[best]!) best = i;
    running[best]!++;
    const counted = new Counted(handler, this, best);
    try {
      return this.clients[best]!.dispatch(options, counted);
    } catch (err) {
      counted.settle();
      throw err;
    }
  }

  /** A request on connection `index` ended (answered or failed). */
  release(index: number): void {
    if (--this.running[index]! === 0) this.idle.check();
  }

  /**
   * Waits for the requests in flight, then closes the connections. (undici's
   * Client.close() itself never resolves after a connection failed the
   * server-name check, so it is not used: nothing of ours is queued once the
   * counts are zero.)
   */
  async close(): Promise<void> {
    await this.idle.wait();
    await this.destroy();
  }

  async destroy(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.destroy()));
  }
}

/** Forwards to the request's handler and takes the request off its connection's count when it ends either way. */
class Counted implements Dispatcher.DispatchHandler {
  private open = true;

  constructor(
    private readonly inner: Dispatcher.DispatchHandler,
    private readonly owner: Connections,
    private readonly index: number,
  ) {}

  settle(): void {
    if (!this.open) return;
    this.open = false;
    this.owner.release(this.index);
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.inner.onRequestStart?.(controller, context);
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.inner.onResponseStart?.(controller, status, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.inner.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.settle();
    this.inner.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.settle();
    this.inner.onResponseError?.(controller, error);
  }
}
