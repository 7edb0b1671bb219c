/**
 * The keep-alive connections to one endpoint, and which one a request goes
 * on.
 *
 * Below saturation a request goes to the connection with the fewest requests
 * in flight (the lowest-numbered on a tie): up to `connections` requests each
 * have a connection to themselves, as without pipelining. Once every
 * connection has a request in flight, the requests dispatched in one
 * event-loop turn stay on the connection the previous one took while it has
 * at most SLACK more in flight than the least busy one (and fewer than the
 * pipelining depth). The writes of a connection that already has a request
 * in flight are held (corked) until the next check phase, so those requests
 * leave in one write and their responses tend to come back in one read: on
 * loopback and fast networks each read and write costs more CPU than the
 * rest of a message's path. A request to an idle connection is held only
 * when another joins it in the same turn.
 *
 * undici's own Pool fills its first connection to the pipelining depth
 * before it uses the next: at any load that queues requests behind each
 * other on one connection while others sit idle.
 */
import { Client, buildConnector, type Dispatcher } from 'undici';
import type { Socket } from 'node:net';
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

/** How many more requests than the least busy connection a saturated turn may put on the connection it is filling. */
const SLACK = 4;

export class Connections {
  private readonly clients: Client[];
  /** Requests dispatched to each connection and not yet answered or failed. */
  private readonly running: Int32Array;
  private readonly idle = new IdleWaiters(() => this.inflight === 0 && this.waiting.length === 0);
  /** Each connection's socket, once undici has connected it. */
  private readonly sockets: Array<Socket | undefined>;
  private readonly pipelining: number;
  /** Sockets corked during this event-loop turn. */
  private corked: Socket[] = [];
  /** The connection the last request of this turn went on; -1 before the turn's first. */
  private lastIndex = -1;
  /**
   * Requests that found every connection `pipelining` deep. They wait here,
   * not in one connection's queue inside undici, so each goes on whichever
   * connection frees a place first, and is written with the turn's other
   * requests rather than on its own.
   */
  private waiting: Array<{ options: Dispatcher.DispatchOptions; handler: Dispatcher.DispatchHandler }> = [];
  /** Failure reports under way (see fail): while non-zero, requests wait. */
  private failing = 0;
  private drainQueued = false;

  constructor(origin: string, options: ConnectionsOptions) {
    this.pipelining = options.pipelining;
    this.clients = [];
    this.sockets = new Array<Socket | undefined>(options.connections);
    // undici's own connector, wrapped to learn each connection's socket (to cork it).
    const connector = buildConnector({ ...options.tls, timeout: 10_000 } as buildConnector.BuildOptions);
    for (let i = 0; i < options.connections; i++) {
      const connect: buildConnector.connector = (opts, callback) =>
        connector(opts, (...args) => {
          this.sockets[i] = args[1] ?? undefined;
          callback(...args);
        });
      this.clients.push(new Client(origin, { pipelining: options.pipelining, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connect }));
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
    const best = this.pick();
    if (this.failing > 0 || this.running[best]! >= this.pipelining) {
      this.waiting.push({ options, handler });
      if (this.failing > 0) this.drainLater();
      return true;
    }
    return this.send(best, options, handler);
  }

  private send(best: number, options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    // A request to an idle connection is written by undici from an Immediate
    // of its own after this I/O phase, so it leaves without waiting for the next
    // turn; a connection is held once a request joins one in flight (see holdForTurn).
    if (this.running[best]!++ > 0) this.holdForTurn(best);
    const counted = new Counted(handler, this, best);
    try {
      return this.clients[best]!.dispatch(options, counted);
    } catch (err) {
      counted.settle();
      throw err;
    }
  }

  private pick(): number {
    const running = this.running;
    let best = 0;
    for (let i = 1; i < running.length && running[best]! > 0; i++) if (running[i]! < running[best]!) best = i;
    const last = this.lastIndex;
    if (last >= 0 && running[best]! > 0 && running[last]! < this.pipelining && running[last]! <= running[best]! + SLACK) best = last;
    return best;
  }

  /**
   * Holds the connection's writes until the check phase after this turn (see
   * endTurn), so the requests dispatched to it meanwhile leave in one write.
   * Not for a connection's first request: below saturation that is a
   * message's only request, and holding it cost a loop turn of latency with
   * nothing to join it (bench/RESULTS.md, latency).
   */
  private holdForTurn(index: number): void {
    if (this.lastIndex < 0) setImmediate(this.endTurn);
    this.lastIndex = index;
    const socket = this.sockets[index];
    if (!socket || socket.destroyed || socket.connecting || this.corked.includes(socket)) return;
    socket.cork();
    this.corked.push(socket);
  }

  /**
   * Ends the turn; the held writes go out at the next check phase. undici
   * writes a request to a connection that had nothing in flight from an
   * Immediate of its own (it first lets unsolicited bytes on the idle socket
   * arrive), queued behind this one: uncorking here would let those writes
   * go out one by one (bench/RESULTS.md, amqp).
   */
  private readonly endTurn = (): void => {
    this.lastIndex = -1;
    const corked = this.corked;
    this.corked = [];
    setImmediate(uncorkAll, corked);
  };

  /** A request on connection `index` ended (answered or failed). */
  release(index: number): void {
    this.running[index]!--;
    if (this.waiting.length > 0) this.sendWaiting();
    else if (this.running[index] === 0) this.idle.check();
  }

  /**
   * Reports a failed request to its handler. undici fails a client's whole
   * queue in one loop when a connection cannot be made and then asserts
   * (throws) that the queue is empty: nothing may reach undici from inside
   * that loop, neither a waiting request given the freed place nor a retry
   * the handler sends. Both wait until the loop is over.
   */
  fail(index: number, report: () => void): void {
    this.failing++;
    try {
      this.release(index);
      report();
    } finally {
      this.failing--;
    }
  }

  /** Sends waiting requests while a connection has room for them. */
  private sendWaiting(): void {
    if (this.failing > 0) return this.drainLater();
    while (this.waiting.length > 0) {
      const best = this.pick();
      if (this.running[best]! >= this.pipelining) return;
      const next = this.waiting.shift()!;
      try {
        this.send(best, next.options, next.handler);
      } catch (err) {
        failUnsent(next.handler, err as Error);
      }
    }
    this.idle.check();
  }

  private drainLater(): void {
    if (this.drainQueued) return;
    this.drainQueued = true;
    queueMicrotask(this.drain);
  }

  private readonly drain = (): void => {
    this.drainQueued = false;
    this.sendWaiting();
  };

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
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) failUnsent(w.handler, new Error('connections closed'));
    await Promise.all(this.clients.map((c) => c.destroy()));
  }
}

/** Fails a request undici never took: there is no controller to pass. */
function failUnsent(handler: Dispatcher.DispatchHandler, err: Error): void {
  handler.onResponseError?.(undefined as unknown as Dispatcher.DispatchController, err);
}

function uncorkAll(sockets: readonly Socket[]): void {
  for (const socket of sockets) if (!socket.destroyed) socket.uncork();
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
    if (!this.open) return void this.inner.onResponseError?.(controller, error);
    this.open = false;
    this.owner.fail(this.index, () => this.inner.onResponseError?.(controller, error));
  }
}
