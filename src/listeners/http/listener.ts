/**
 * The HTTP device-ingress listener (`protocol: http`): devices POST or PUT
 * under a prefix; the rest of the path is the address. node:http, or
 * node:https when `tls` is configured; keep-alive. The connection limit and
 * the deadline up to the first request are the AcceptGuard's.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { DeviceMessage } from '../../devices/registry.js';
import { HTTP_DEFAULTS } from '../../config/sections/listener-http.js';
import { serverTlsOf } from '../listener-tls.js';
import { listenTcp } from '../listen.js';
import type { Listener, ListenerContext, ListenerStats } from '../listener.js';
import { HttpCore } from './core.js';
import { onRequest } from './handle-request.js';
import { AcceptGuard } from '../accept-guard.js';
import { HttpCommandPolls } from './command-poll.js';

export class HttpListener implements Listener {
  readonly name: string;
  readonly protocol = 'http' as const;
  private readonly core: HttpCore;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  /** Bytes read on a socket up to the end of its last complete request (guard.slowPeers). */
  private readonly received = new WeakMap<Socket, number>();
  private readonly accepts: AcceptGuard;
  private readonly polls: HttpCommandPolls;

  constructor(private readonly context: ListenerContext) {
    const { config } = context;
    this.name = config.name;
    this.polls = new HttpCommandPolls(config.name, context.devices);
    this.core = new HttpCore(
      config.name,
      { ...HTTP_DEFAULTS, ...config.http },
      config.limits.maxPacketBytes,
      context.pipeline,
      context.guard,
      config.guard?.limits,
      this.polls,
    );
    this.accepts = new AcceptGuard({
      listener: config.name,
      limits: config.limits,
      guard: context.guard,
      proxyProtocol: config.proxyProtocol,
      // The first request's header section (RFC 9112 §2.1) admits a connection; keepAliveTimeoutMs applies after.
      hello: { name: 'request', clause: 'RFC9112-2.1' },
    });
  }

  async start(): Promise<void> {
    const { config, logger } = this.context;
    const o = this.core.options;
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.accepts.admitted(req.socket);
      // guard.slowPeers: a request counts as in progress until its body has been read.
      const done = (): void => void this.received.set(req.socket, req.socket.bytesRead);
      req.once('end', done);
      res.once('finish', done);
      onRequest(this.core, req, res).catch((err: unknown) => {
        logger.error({ err }, 'http ingress request failed');
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ code: 'TG_ERR_INTERNAL', reason: 'internal error' }));
        } else res.destroy();
      });
    };
    const base = {
      keepAliveTimeout: o.keepAliveTimeoutMs,
      requestTimeout: o.requestTimeoutMs,
      headersTimeout: Math.min(o.requestTimeoutMs, 60_000),
      // node enforces both deadlines only when it checks its connections (every 30 s unless set):
      // checked four times per deadline, a stalled request is closed within 1.25 × requestTimeoutMs.
      connectionsCheckingInterval: Math.max(250, Math.min(30_000, Math.floor(o.requestTimeoutMs / 4))),
    };
    const tls = serverTlsOf(this.context);
    const server: Server = tls ? createHttpsServer({ ...base, ...tls.options() }, handler) : createHttpServer(base, handler);
    this.accepts.attach(server);
    if (tls) tls.attach(server as HttpsServer);
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
      if (!tls) this.watch(s);
    });
    if (tls) server.on('secureConnection', (s: Socket) => this.watch(s));
    // Unparseable requests: answer 400 and close (RFC 9112 §2.2), count, never crash.
    // A request not received within requestTimeoutMs: 408 and close (RFC 9110 §15.5.9), a slow client.
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      if (!timedOut) this.core.protocolErrors++;
      this.core.report({
        kind: timedOut ? 'slow-client' : 'malformed-packet',
        remoteAddress: (socket as Socket).remoteAddress ?? 'unknown',
        clause: timedOut ? 'RFC9110-15.5.9' : 'RFC9112',
        detail: timedOut ? `request not complete within ${o.requestTimeoutMs} ms` : (err.code ?? err.message),
      });
      const status = timedOut ? '408 Request Timeout' : '400 Bad Request';
      if (socket.writable && err.code !== 'ECONNRESET') socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      else socket.destroy();
    });
    await listenTcp(server, this.name, config.host, config.port);
    server.on('error', (err) => logger.warn({ err }, 'http ingress server error'));
    this.server = server;
  }

  /**
   * guard.slowPeers on one connection (the TLS socket under TLS): bytes past
   * the end of the last complete request are a request in progress, so a
   * header or body dripping in is caught; a peer not reading its responses too.
   */
  private watch(s: Socket): void {
    const remoteAddress = s.remoteAddress ?? 'unknown';
    this.received.set(s, 0);
    const unwatch = this.context.guard.watchPeer({
      listener: this.name,
      remoteAddress,
      clientId: () => undefined,
      bytesIn: () => s.bytesRead,
      receiving: () => s.bytesRead > (this.received.get(s) ?? 0),
      outboundBytes: () => s.writableLength,
      close: () => s.destroy(),
    });
    s.once('close', unwatch);
  }

  async stop(options: { drain?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((r) => server.close(() => r()));
    this.accepts.stop();
    if (options.drain) {
      server.closeIdleConnections();
      await this.core.idle(options.timeoutMs ?? 10_000);
    }
    server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  address(): AddressInfo | null {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a : null;
  }

  /** Southbound: answers the device's waiting long-poll (`GET {prefix}commands`); false when it has none open. */
  deliver(clientId: string, message: DeviceMessage): boolean {
    return this.polls.deliver(clientId, message);
  }

  stats(): ListenerStats {
    const c = this.core;
    return { connections: this.sockets.size, messagesIn: c.messagesIn, messagesOut: c.messagesOut, protocolErrors: c.protocolErrors };
  }
}
