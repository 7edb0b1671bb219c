/**
 * A listener host for byte-stream protocols contributed by plugins
 * (`api.registerStreamListener`). thinggate owns the TCP (or TLS) server, the
 * accept-time limits, per-connection back-pressure, presence for southbound
 * delivery and error isolation (stream-peer.ts); the plugin supplies one
 * protocol state machine per connection. A plugin's code that throws (or a
 * promise of it that rejects) closes that connection only, is logged and
 * reported to the guard as `plugin-error`.
 */
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Protocol } from '../envelope/index.js';
import type { DeviceMessage } from '../devices/registry.js';
import { AcceptGuard } from '../listeners/accept-guard.js';
import type { Listener, ListenerContext, ListenerStats } from '../listeners/listener.js';
import { serverTlsOf } from '../listeners/listener-tls.js';
import { listenTcp } from '../listeners/listen.js';
import { drained, StreamPeer, type PeerHost } from './stream-peer.js';
import type { StreamSubscriber } from './stream-southbound.js';
import type { StreamProtocol } from './stream-contract.js';

export type { StreamConnection, StreamDelivery, StreamMessage, StreamProtocol, StreamSession } from './stream-contract.js';

/** Builds a Listener for a stream protocol (the registry's `create` for `registerStreamListener`). */
export function streamListener(protocol: StreamProtocol): (context: ListenerContext, options: unknown) => Listener {
  return (context, options) => new StreamListener(context, protocol, options);
}

class StreamListener implements Listener, PeerHost {
  readonly name: string;
  readonly protocol: Protocol;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly peers = new Set<StreamPeer>();
  readonly subscribers = new Map<string, StreamSubscriber>();
  private readonly accepts: AcceptGuard;
  readonly counts = { messagesIn: 0, messagesOut: 0, protocolErrors: 0 };

  constructor(
    readonly context: ListenerContext,
    readonly impl: StreamProtocol,
    readonly options: unknown,
  ) {
    this.name = context.config.name;
    this.protocol = context.config.protocol as Protocol;
    this.accepts = new AcceptGuard({
      listener: this.name,
      limits: context.config.limits,
      guard: context.guard,
      hello: { name: 'first frame' },
      proxyProtocol: context.config.proxyProtocol,
    });
  }

  async start(): Promise<void> {
    const { config } = this.context;
    const server = config.tls ? this.tlsServer() : createTcpServer();
    this.accepts.attach(server);
    server.on(config.tls ? 'secureConnection' : 'connection', (s: Socket) => this.onSocket(s));
    await listenTcp(server, this.name, config.host, config.port);
    server.on('error', (err) => this.context.logger.warn({ err }, 'listener server error'));
    this.server = server;
  }

  private tlsServer(): Server {
    const tls = serverTlsOf(this.context)!;
    const server = createTlsServer(tls.options());
    tls.attach(server);
    return server;
  }

  async stop(options: { drain?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.accepts.stop();
    const closed = new Promise<void>((r) => server.close(() => r()));
    if (options.drain) await drained(() => this.peers, options.timeoutMs ?? 0);
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  address(): AddressInfo | null {
    return (this.server?.address() as AddressInfo | null) ?? null;
  }

  deliver(clientId: string, message: DeviceMessage): boolean {
    return this.subscribers.get(clientId)?.deliver(message, message.qos) ?? false;
  }

  stats(): ListenerStats {
    return { ...this.counts, connections: this.sockets.size };
  }

  /** Sockets corked this turn, uncorked together by one setImmediate (as the MQTT listener does). */
  private uncorks: Array<() => void> = [];
  private flushScheduled = false;
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const list = this.uncorks;
    this.uncorks = [];
    for (const uncork of list) uncork();
  };

  private corkedForTurn(uncork: () => void): void {
    this.uncorks.push(uncork);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  private onSocket(socket: Socket): void {
    this.sockets.add(socket);
    // Acknowledgements are small frames the device waits for: Nagle's algorithm would hold each
    // behind the TCP ACK of the previous one (RFC 896); writes are coalesced per turn instead.
    socket.setNoDelay(true);
    let corked = false;
    const peer = new StreamPeer(this, {
      remoteAddress: socket.remoteAddress ?? 'unknown',
      ...(socket.remotePort !== undefined && { remotePort: socket.remotePort }),
      datagram: false,
      write: (bytes, onWritten) => {
        if (!socket.writable) return;
        // Frames written in one turn of the event loop (the acknowledgements of every back-end
        // answer that turn read) leave in one writev at its end, not one system call each.
        if (!corked) {
          corked = true;
          socket.cork();
          this.corkedForTurn(() => {
            corked = false;
            socket.uncork();
          });
        }
        socket.write(bytes, onWritten && ((err) => err || onWritten()));
      },
      destroy: () => socket.destroy(),
      pause: () => socket.pause(),
      resume: () => socket.isPaused() && socket.resume(),
      admitted: () => this.accepts.admitted(socket),
      idleTimeout: (ms) => {
        socket.setTimeout(ms);
        if (ms > 0 && socket.listenerCount('timeout') === 0) socket.on('timeout', () => socket.destroy());
      },
    });
    this.peers.add(peer);
    socket.on('data', peer.data);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.peers.delete(peer);
      peer.ended();
    });
  }
}
