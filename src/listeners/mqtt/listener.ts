/**
 * The MQTT listener: a TCP or TLS server (`protocol: mqtt`) or an HTTP(S)
 * server carrying WebSocket subprotocol `mqtt` (`protocol: mqtt-ws`,
 * [MQTT-6.0.0-3]). Both hand every connection to the same MqttConnection as
 * a Duplex. The connection limit and the deadline up to CONNECT are the
 * AcceptGuard's, on the raw sockets.
 */
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws';
import type { TlsInfo } from '../../envelope/index.js';
import type { DeviceMessage } from '../../devices/registry.js';
import type { ConnectionInfo, Listener, ListenerContext, ListenerStats } from '../listener.js';
import { listenTcp } from '../listen.js';
import { tlsInfoOf } from '../../security/tls.js';
import { serverTlsOf } from '../listener-tls.js';
import { AcceptGuard } from '../accept-guard.js';
import { MqttConnection, type ListenerShared, type RemoteInfo } from './connection.js';
import { MqttMetrics } from './metrics.js';
import type { PacketWriter } from './writer.js';
import { RC } from './reason-codes.js';
import { MemorySessionStore } from '../../state/embedded/sessions.js';
import { dropDelayedWills, publishStoredWill, restoreWill } from './will.js';
import { restoreSessions, retireParked } from './persistence.js';
import { SharedSessionSweep } from './sweep.js';

/** How long a non-draining stop waits for peers to read the final DISCONNECT. */
const STOP_GRACE_MS = 200;

export class MqttListener implements Listener {
  readonly name: string;
  readonly protocol: ListenerContext['config']['protocol'];
  private server: NetServer | HttpServer | undefined;
  private wss: WebSocketServer | undefined;
  private readonly shared: ListenerShared;
  private waiters: Array<() => void> = [];
  private corked: PacketWriter[] = [];
  private flushScheduled = false;
  private readonly accepts: AcceptGuard;
  /** WebSocket streams by the HTTP request socket under them, for admission. */
  private readonly transports = new WeakMap<Duplex, Socket>();
  /** Finishes what dead nodes left in a shared session store (sweep.ts). */
  private sweep: SharedSessionSweep | undefined;

  constructor(private readonly ctx: ListenerContext) {
    this.name = ctx.config.name;
    this.protocol = ctx.config.protocol;
    this.accepts = new AcceptGuard({
      listener: ctx.config.name,
      limits: ctx.config.limits,
      guard: ctx.guard,
      // [MQTT-3.1.4-1]: the server closes a connection that sends no CONNECT in reasonable time.
      hello: { name: 'CONNECT', clause: 'MQTT-3.1.4-1' },
      websocket: ctx.config.protocol === 'mqtt-ws',
      proxyProtocol: ctx.config.proxyProtocol,
    });
    const metrics = new MqttMetrics(ctx.metrics, ctx.config.name);
    this.shared = {
      ctx,
      name: ctx.config.name,
      limits: ctx.config.limits,
      options: ctx.config.mqtt,
      limiter: ctx.guard.limiter(ctx.config.name, ctx.config.guard?.limits),
      metrics,
      connections: new Set(),
      sessions: {
        store: ctx.sessions ?? new MemorySessionStore<DeviceMessage>(),
        devices: ctx.devices,
        options: ctx.config.mqtt.sessions,
        metrics,
        logger: ctx.logger,
        onWill: (clientId, listener, will) => publishStoredWill(this.shared, listener ?? this.name, clientId, will),
      },
      draining: false,
      messagesIn: 0,
      messagesOut: 0,
      protocolErrors: 0,
      onSettled: () => this.wake(),
      onConnect: (c) => this.accepts.admitted(this.transports.get(c.socket) ?? (c.socket as Socket)),
      scheduleFlush: (writer) => {
        this.corked.push(writer);
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          setImmediate(this.flush);
        }
      },
    };
  }

  async start(): Promise<void> {
    if (this.server) return;
    const cfg = this.ctx.config;
    const serverTls = serverTlsOf(this.ctx);
    const tls = serverTls?.options();
    let server: NetServer | HttpServer;
    if (cfg.protocol === 'mqtt-ws') {
      const http: HttpServer = tls ? createHttpsServer(tls) : createHttpServer();
      this.attachWebSocket(http);
      server = http;
    } else if (tls) {
      server = createTlsServer(tls, (s) => this.accept(s, remoteOf(s, tlsInfoOf(s))));
    } else {
      server = createNetServer((s) => this.accept(s, remoteOf(s)));
    }
    this.accepts.attach(server);
    if (serverTls) serverTls.attach(server as TlsServer);
    // Before accepting: a session kept across a restart collects messages again, and its device finds it.
    const restored = await restoreSessions(this.shared.sessions, this.name, (clientId, will) => restoreWill(this.shared, this.name, clientId, will));
    if (restored > 0) this.ctx.logger.info({ sessions: restored }, `restored ${restored} persistent session${restored === 1 ? '' : 's'}`);
    if (SharedSessionSweep.needed(this.shared)) {
      this.sweep = new SharedSessionSweep(this.shared, this.name);
      await this.sweep.start();
    }
    await listenTcp(server, cfg.name, cfg.host, cfg.port);
    server.on('error', (err: Error) => this.ctx.logger.error({ err }, 'listener socket error'));
    this.server = server;
    this.shared.metrics.start();
  }

  async stop(options: { drain?: boolean; timeoutMs?: number; final?: boolean } = {}): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.sweep?.stop();
    this.sweep = undefined;
    const timeoutMs = options.timeoutMs ?? 10_000;
    server.close();
    if ('closeIdleConnections' in server) server.closeIdleConnections();
    this.accepts.stop();
    const conns = this.shared.connections;
    if (options.drain) {
      // Stop reading new messages; let in-flight ones get their outcome and acknowledgement.
      this.shared.draining = true;
      for (const c of conns) c.updateFlow();
      await this.waitUntil(() => [...conns].every((c) => c.pending === 0), timeoutMs);
    }
    for (const c of [...conns]) c.closeWith(RC.SERVER_SHUTTING_DOWN, 'server shutting down');
    await this.waitUntil(() => conns.size === 0, options.drain ? Math.min(timeoutMs, 1000) : STOP_GRACE_MS);
    for (const c of [...conns]) c.destroy();
    // Their close events park sessions and hand Wills over: what they leave is dropped after them.
    await this.waitUntil(() => conns.size === 0, STOP_GRACE_MS);
    dropDelayedWills(this.shared, this.name);
    if (options.final) retireParked(this.shared.sessions, this.name);
    this.wss?.close();
    this.wss = undefined;
    this.shared.metrics.stop();
  }

  address(): AddressInfo | null {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a : null;
  }

  deliver(clientId: string, message: DeviceMessage): boolean {
    const sub = this.ctx.devices.lookup(clientId);
    if (!(sub instanceof MqttConnection) || sub.listener !== this.name) return false;
    return sub.deliver(message, message.qos);
  }

  listConnections(): ConnectionInfo[] {
    const out: ConnectionInfo[] = [];
    for (const c of this.shared.connections) {
      out.push({
        listener: this.name,
        protocol: this.protocol,
        clientId: c.clientId,
        remoteAddress: c.remote.address,
        ...(c.remote.port !== undefined && { remotePort: c.remote.port }),
        ...(c.identity && { identity: c.identity.principal }),
        ...(c.version > 0 && { protocolVersion: c.version === 5 ? 'mqtt 5' : 'mqtt 3.1.1' }),
        state: c.state,
        inflight: c.pending,
        ...(c.remote.tls && { tls: c.remote.tls }),
      });
    }
    return out;
  }

  /** An operator closes a session: MQTT 5 DISCONNECT 0x98 Administrative action (§3.14.2.1); v3.1.1 has no reason, the socket closes. */
  closeConnection(clientId: string, reason: string): boolean {
    for (const c of this.shared.connections) {
      if (c.clientId !== clientId || c.state !== 'connected') continue;
      c.log.info({ reason }, 'connection closed by an operator');
      c.closeWith(RC.ADMINISTRATIVE_ACTION, reason);
      return true;
    }
    return false;
  }

  stats(): ListenerStats {
    return {
      connections: this.shared.connections.size,
      messagesIn: this.shared.messagesIn,
      messagesOut: this.shared.messagesOut,
      protocolErrors: this.shared.protocolErrors,
    };
  }

  /** A TCP, TLS or WebSocket connection ready for MQTT; the AcceptGuard has already applied the connection limit. */
  private accept(socket: Duplex, remote: RemoteInfo): void {
    if (!this.server) {
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    if ('setNoDelay' in socket) (socket as Socket).setNoDelay(true);
    new MqttConnection(this.shared, socket, remote);
  }

  private attachWebSocket(server: HttpServer): void {
    const wsPath = this.ctx.config.mqtt.wsPath;
    const maxPacket = this.ctx.config.limits.maxPacketBytes;
    const wss = new WebSocketServer({
      noServer: true,
      // One WebSocket message normally carries one MQTT packet; the frame guard enforces the MQTT limit.
      maxPayload: Math.max(maxPacket * 2, 65536),
      handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
    });
    this.wss = wss;
    server.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end(`MQTT over WebSocket: connect to ${wsPath} with subprotocol mqtt\n`);
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => undefined);
      const path = (req.url ?? '/').split('?')[0];
      if (path !== wsPath) {
        socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        const raw = req.socket as Socket;
        const remote = remoteOf(raw, tlsInfoOf(raw));
        const stream = createWebSocketStream(ws);
        stream.on('error', () => undefined);
        this.accepts.upgraded(raw);
        this.transports.set(stream, raw);
        // The stream does not always emit 'close' on its own when the peer goes away; destroying it does.
        ws.once('close', () => stream.destroy());
        this.accept(stream, remote);
      });
    });
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const list = this.corked;
    this.corked = [];
    for (const c of list) c.uncork();
  };

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `cond` holds (checked whenever a connection settles or closes) or after `ms`. */
  private waitUntil(cond: () => boolean, ms: number): Promise<void> {
    return new Promise((done) => {
      let timer: NodeJS.Timeout | undefined;
      const check = (): void => {
        if (cond()) {
          clearTimeout(timer);
          done();
        } else this.waiters.push(check);
      };
      timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        done();
      }, ms);
      check();
    });
  }
}

function remoteOf(s: Socket, tls?: TlsInfo): RemoteInfo {
  return { address: s.remoteAddress ?? 'unknown', ...(s.remotePort !== undefined && { port: s.remotePort }), ...(tls && { tls }) };
}
