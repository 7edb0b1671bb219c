/**
 * A listener host for byte-stream protocols contributed by plugins
 * (`api.registerStreamListener`). thinggate owns the TCP (or TLS) server, the
 * accept-time limits, per-connection back-pressure and error isolation; the
 * plugin supplies one protocol state machine per connection. A plugin's code
 * that throws (or a promise of it that rejects) closes that connection only,
 * is logged and reported to the guard as `plugin-error`.
 */
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { createEnvelope, type Delivery, type Identity, type Outcome, type Protocol } from '../envelope/index.js';
import { AcceptGuard } from '../listeners/accept-guard.js';
import type { Listener, ListenerContext, ListenerStats } from '../listeners/listener.js';
import { serverTlsOf } from '../listeners/listener-tls.js';
import { listenTcp } from '../listeners/listen.js';

/** One message a stream protocol hands to the pipeline. */
export interface StreamMessage {
  readonly address: string;
  readonly payload: Buffer;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
  /** Default at-least-once: the outcome comes after the back-end's answer. */
  readonly delivery?: Delivery;
}

/** What the host offers one connection's protocol state machine. */
export interface StreamConnection {
  readonly listener: string;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  /** `limits.maxPacketBytes`: the largest frame the protocol should accept. */
  readonly maxFrameBytes: number;
  readonly logger: Logger;
  /**
   * The device identified itself: `clientId` applies at once and admission runs (onConnect scripts,
   * authenticators); messages published meanwhile wait for it. Resolves false when refused (the connection is then closed).
   */
  identify(clientId: string): Promise<boolean>;
  /** The client id given to `identify`, if any. */
  readonly clientId: string | undefined;
  /** Hands one message to the pipeline; `onOutcome` runs with its Outcome (errors it throws close the connection). */
  publish(message: StreamMessage, onOutcome?: (outcome: Outcome) => void): void;
  write(bytes: Uint8Array): void;
  /** A protocol violation: reported to the guard with `detail`, then the socket is closed. */
  fail(detail: string, clause?: string): void;
}

/** One connection's protocol state machine. */
export interface StreamSession {
  /** Bytes arrived (in order). May throw: the connection is closed. */
  onData(chunk: Buffer): void;
  onClose?(): void;
}

export interface StreamProtocol {
  /** Called at accept with the listener's `listeners[].<name>` options. */
  open(connection: StreamConnection, options: unknown): StreamSession;
}

/** Builds a Listener for a stream protocol (the registry's `create` for `registerStreamListener`). */
export function streamListener(protocol: StreamProtocol): (context: ListenerContext, options: unknown) => Listener {
  return (context, options) => new StreamListener(context, protocol, options);
}

class StreamListener implements Listener {
  readonly name: string;
  readonly protocol: string;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly accepts: AcceptGuard;
  private readonly counts = { connections: 0, messagesIn: 0, messagesOut: 0, protocolErrors: 0 };

  constructor(
    private readonly context: ListenerContext,
    private readonly impl: StreamProtocol,
    private readonly options: unknown,
  ) {
    this.name = context.config.name;
    this.protocol = context.config.protocol;
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
    if (options.drain) await waitFor(() => this.inflightTotal() === 0, options.timeoutMs ?? 0);
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  address(): AddressInfo | null {
    return (this.server?.address() as AddressInfo | null) ?? null;
  }

  deliver(): boolean {
    return false; // southbound delivery is not part of the stream contract yet
  }

  stats(): ListenerStats {
    return { ...this.counts, connections: this.sockets.size };
  }

  private inflight = new Map<Socket, number>();

  private inflightTotal(): number {
    let n = 0;
    for (const v of this.inflight.values()) n += v;
    return n;
  }

  private onSocket(socket: Socket): void {
    const { config, pipeline, logger, guard } = this.context;
    this.sockets.add(socket);
    this.inflight.set(socket, 0);
    // Acknowledgements are small frames the device waits for: Nagle's algorithm would hold each
    // behind the TCP ACK of the previous one (RFC 896); writes are coalesced per turn instead.
    socket.setNoDelay(true);
    const remoteAddress = socket.remoteAddress ?? 'unknown';
    const log = logger.child({ remoteAddress });
    let clientId: string | undefined;
    let identity: Identity | undefined;
    let admission: Promise<boolean> | undefined;
    let closed = false;
    const protocol = this.protocol as Protocol;
    let corked = false;
    const uncork = (): void => {
      corked = false;
      socket.uncork();
    };
    const close = (err: unknown, where: string): void => {
      if (closed) return;
      closed = true;
      this.counts.protocolErrors++;
      log.warn({ err }, `plugin listener failed in ${where}: closing the connection`);
      guard.report({
        kind: 'plugin-error',
        listener: this.name,
        remoteAddress,
        ...(clientId !== undefined && { clientId }),
        detail: `${where}: ${(err as Error)?.message ?? String(err)}`,
      });
      socket.destroy();
    };
    const guarded =
      <A extends unknown[]>(where: string, fn: (...a: A) => void) =>
      (...a: A): void => {
        if (closed) return;
        try {
          fn(...a);
        } catch (err) {
          close(err, where);
        }
      };
    const setInflight = (delta: number): void => {
      const n = (this.inflight.get(socket) ?? 0) + delta;
      this.inflight.set(socket, n);
      // Back-pressure: stop reading at maxInflight, as MQTT does at its receive maximum.
      if (n >= config.limits.maxInflight) socket.pause();
      else if (delta < 0 && socket.isPaused() && !closed) socket.resume();
    };
    const connection: StreamConnection = {
      listener: this.name,
      remoteAddress,
      ...(socket.remotePort !== undefined && { remotePort: socket.remotePort }),
      maxFrameBytes: config.limits.maxPacketBytes,
      logger: log,
      get clientId() {
        return clientId;
      },
      identify: (id) => {
        this.accepts.admitted(socket);
        clientId = id;
        const client = {
          protocol,
          listener: this.name,
          clientId: id,
          remoteAddress,
          ...(socket.remotePort !== undefined && { remotePort: socket.remotePort }),
        };
        admission = pipeline.admit(client).then((a) => {
          admission = undefined;
          if (a.ok) {
            identity = a.identity;
            return true;
          }
          guard.report({ kind: 'auth-failure', listener: this.name, remoteAddress, clientId: id, detail: a.reason });
          closed = true;
          socket.destroy();
          return false;
        });
        return admission;
      },
      publish: (message, onOutcome) => {
        this.accepts.admitted(socket);
        if (admission) {
          void admission.then((ok) => ok && connection.publish(message, onOutcome));
          return;
        }
        this.counts.messagesIn++;
        setInflight(1);
        const env = createEnvelope({
          protocol,
          listener: this.name,
          source: {
            clientId: clientId ?? `${remoteAddress}:${socket.remotePort ?? 0}`,
            remoteAddress,
            ...(socket.remotePort !== undefined && { remotePort: socket.remotePort }),
            ...(identity && { identity }),
          },
          address: message.address,
          method: 'PUBLISH',
          payload: message.payload,
          ...(message.contentType !== undefined && { contentType: message.contentType }),
          ...(message.headers !== undefined && { headers: message.headers }),
          delivery: message.delivery ?? 'at-least-once',
        });
        void pipeline.handle(env).then(
          guarded('onOutcome', (outcome: Outcome) => {
            setInflight(-1);
            onOutcome?.(outcome);
          }),
        );
      },
      write: (bytes) => {
        if (closed || !socket.writable) return;
        this.counts.messagesOut++;
        // Frames written in one turn of the event loop (the acknowledgements of the back-end
        // answers one read delivered) leave in one writev, not one system call each.
        if (!corked) {
          corked = true;
          socket.cork();
          process.nextTick(uncork);
        }
        socket.write(bytes);
      },
      fail: (detail, clause) => {
        if (closed) return;
        closed = true;
        this.counts.protocolErrors++;
        guard.report({
          kind: 'protocol-error',
          listener: this.name,
          remoteAddress,
          ...(clientId !== undefined && { clientId }),
          ...(clause !== undefined && { clause }),
          detail,
        });
        socket.destroy();
      },
    };
    let session: StreamSession | undefined;
    guarded('open', () => {
      session = this.impl.open(connection, this.options);
    })();
    socket.on(
      'data',
      guarded('onData', (chunk: Buffer) => session?.onData(chunk)),
    );
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.inflight.delete(socket);
      try {
        session?.onClose?.();
      } catch (err) {
        log.warn({ err }, 'plugin listener failed in onClose');
      }
    });
  }
}

function waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const tick = (): void => {
      if (done() || Date.now() >= until) resolve();
      else setTimeout(tick, 10);
    };
    tick();
  });
}
