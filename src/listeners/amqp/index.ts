/**
 * The AMQP 1.0 listener on rhea. thinggate owns the TCP/TLS server (so it can
 * count connections, enforce the connect deadline — both in accept-guard.ts —
 * and check framing before rhea reads a byte) and hands each socket to its
 * own rhea container. docs/amqp.md describes the behaviour and options.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import rhea from 'rhea';
import { serverTlsOf } from '../listener-tls.js';
import { listenTcp } from '../listen.js';
import { AMQP_DEFAULTS } from '../../config/sections/listener-amqp.js';
import type { AmqpListenerOptions } from '../../config/types.js';
import type { DeviceMessage } from '../../devices/registry.js';
import type { ConnectionInfo, Listener, ListenerContext, ListenerFactory, ListenerStats } from '../listener.js';
import { AmqpConnection, type ConnectionDeps } from './connection.js';
import { AmqpDeviceClients } from './device-clients.js';
import { MIN_MAX_FRAME_SIZE } from './frame-scanner.js';
import { amqpMetrics } from './metrics.js';
import type { RheaContainer } from './rhea-types.js';
import { IdleWaiters } from '../../util/idle-waiters.js';
import { ListenerCounters } from '../listener-counters.js';
import { AcceptGuard } from '../accept-guard.js';
import { routeRheaLogging } from './rhea-log.js';

/** Default bound on a drain when the caller gives none. */
const DEFAULT_DRAIN_MS = 5000;

export class AmqpListener implements Listener {
  readonly name: string;
  readonly protocol = 'amqp' as const;
  private server: Server | undefined;
  private readonly connections = new Set<AmqpConnection>();
  private readonly deps: ConnectionDeps;
  private readonly counters = new ListenerCounters();
  private readonly clients: AmqpDeviceClients;
  private draining = false;
  private inflight = 0;
  private readonly drained = new IdleWaiters(() => this.inflight === 0);
  private readonly accepts: AcceptGuard;
  private unrouteLogging: (() => void) | undefined;

  constructor(private readonly ctx: ListenerContext) {
    this.name = ctx.config.name;
    const options: AmqpListenerOptions = { ...AMQP_DEFAULTS, ...ctx.config.amqp };
    const metrics = amqpMetrics(ctx.metrics);
    this.clients = new AmqpDeviceClients(this.name, ctx.devices, (result) => {
      if (result === 'sent') this.counters.messageOut();
      metrics.southbound.inc({ listener: this.name, result });
    });
    // One container per listener, never rhea's process-wide default. Credit and settlement are ours (§2.6.7, §3.4).
    const container = rhea.create_container({ autoaccept: false, autosettle: true, credit_window: 0 }) as unknown as RheaContainer;
    this.deps = {
      ctx,
      options,
      maxFrameBytes: Math.max(MIN_MAX_FRAME_SIZE, ctx.config.limits.maxPacketBytes),
      metrics,
      clients: this.clients,
      container,
      counters: this.counters,
      isDraining: () => this.draining,
      limiter: ctx.guard.limiter(ctx.config.name, ctx.config.guard?.limits),
      onOpen: (socket) => this.accepts.admitted(socket),
      onInflight: (delta) => {
        this.inflight += delta;
        this.drained.check();
      },
      onClosed: (c) => {
        if (this.connections.delete(c)) metrics.connections.dec({ listener: this.name });
      },
    };
    // Errors rhea raises on the container itself (not on a connection) must never go unhandled.
    container.on('error', (e: unknown) => ctx.logger.warn({ err: e }, 'amqp container error'));
    container.on('protocol_error', (e: unknown) => ctx.logger.warn({ err: e }, 'amqp protocol error'));
    container.on('disconnected', () => undefined);
    this.accepts = new AcceptGuard({
      listener: this.name,
      limits: ctx.config.limits,
      guard: ctx.guard,
      proxyProtocol: ctx.config.proxyProtocol,
      // AMQP 1.0 §2.4.1: the connection is not open until the peer's open frame (after SASL, when used).
      hello: { name: 'open', clause: 'AMQP-1.0-2.4.1' },
      onRefused: () => metrics.connectionsTotal.inc({ listener: this.name, result: 'limit' }),
      onExpired: () => {
        this.counters.protocolError();
        metrics.closes.inc({ listener: this.name, condition: 'connect-timeout' });
      },
    });
  }

  async start(): Promise<void> {
    const { config, logger } = this.ctx;
    const server = config.tls ? this.tlsServer() : createServer({ noDelay: true });
    this.accepts.attach(server);
    server.on(config.tls ? 'secureConnection' : 'connection', (socket: Socket) => this.onSocket(socket));
    await listenTcp(server, this.name, config.host, config.port);
    server.on('error', (err: Error) => logger.error({ err }, 'amqp server error'));
    this.server = server;
    this.unrouteLogging = routeRheaLogging(logger, this.ctx.guard.summaryInterval);
    logger.info({ address: this.address() }, 'amqp listener started');
  }

  private tlsServer(): Server {
    const tls = serverTlsOf(this.ctx)!;
    const server = createTlsServer(tls.options());
    tls.attach(server);
    return server;
  }

  /** A TCP or TLS connection ready for AMQP; the AcceptGuard has already applied the connection limit. */
  private onSocket(socket: Socket): void {
    socket.setNoDelay(true);
    if (this.draining) {
      this.deps.metrics.connectionsTotal.inc({ listener: this.name, result: 'stopping' });
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    const conn = new AmqpConnection(socket, this.deps);
    this.connections.add(conn);
    this.deps.metrics.connections.inc({ listener: this.name });
  }

  async stop(options: { drain?: boolean; timeoutMs?: number } = {}): Promise<void> {
    this.draining = true;
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    this.accepts.stop();
    this.unrouteLogging?.();
    this.unrouteLogging = undefined;
    if (options.drain) {
      // Deliveries already handed to the pipeline get their outcome and disposition first.
      await this.drained.wait(options.timeoutMs ?? DEFAULT_DRAIN_MS);
      for (const c of this.connections) c.closeWithError('amqp:connection:forced', 'thinggate is shutting down');
      await bounded(this.allClosed(), 1000);
    }
    for (const c of this.connections) c.destroy();
    await closed;
    this.ctx.logger.info('amqp listener stopped');
  }

  address(): AddressInfo | null {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a : null;
  }

  /** Southbound: sends on the client's first receiver link whose source address matches the topic. */
  deliver(clientId: string, message: DeviceMessage): boolean {
    const client = this.clients.get(clientId);
    if (!client) return false;
    return client.deliver(message, message.qos);
  }

  listConnections(): ConnectionInfo[] {
    return [...this.connections].map((c) => ({
      listener: this.name,
      protocol: this.protocol,
      clientId: c.clientId,
      remoteAddress: c.remoteAddress,
      ...(c.remotePort !== undefined && { remotePort: c.remotePort }),
      ...(c.identity && { identity: c.identity.principal }),
      protocolVersion: 'amqp 1.0',
      state: c.admitted ? 'open' : 'opening',
      ...(c.tls && { tls: c.tls }),
    }));
  }

  /** An operator closes a connection: AMQP close with amqp:connection:forced (AMQP 1.0 §2.8.15). */
  closeConnection(clientId: string, reason: string): boolean {
    for (const c of this.connections) {
      if (c.clientId !== clientId || !c.admitted) continue;
      c.log.info({ reason }, 'connection closed by an operator');
      c.closeWithError('amqp:connection:forced', reason);
      return true;
    }
    return false;
  }

  stats(): ListenerStats {
    return this.counters.stats(this.connections.size);
  }

  private async allClosed(): Promise<void> {
    while (this.connections.size > 0) {
      const first = [...this.connections][0]!;
      await new Promise<void>((r) => {
        if (!this.connections.has(first)) return r();
        first.shim.socket.once('close', () => r());
      });
    }
  }
}

function bounded(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]).finally(() => clearTimeout(timer));
}

/** Builds the AMQP 1.0 listener for `protocol: amqp`. */
export const createAmqpListener: ListenerFactory = (context) => new AmqpListener(context);
