/**
 * What every TCP-based listener (MQTT, MQTT over WebSocket, AMQP, HTTP, with
 * or without TLS) does at accept, before any protocol code runs:
 *
 * - `limits.maxConnections` counts raw TCP sockets, so connections still in
 *   their TLS handshake or WebSocket upgrade count too. node's server counts
 *   them and refuses the excess before a socket object exists (O(1)); each
 *   refusal is reported (`connection-limit`).
 * - `limits.connectTimeoutMs` is one deadline from accept to admission:
 *   TLS handshake, WebSocket upgrade and the protocol hello (MQTT CONNECT,
 *   AMQP open, the first HTTP request). A socket still short of it when the
 *   deadline passes is destroyed and reported (`slow-client`), naming the
 *   stage it was stuck in.
 * - A banned source address (guard/bans.ts), or one over its new-connection
 *   rate (guard.limits), is dropped at once.
 * - A failed TLS handshake is reported (`tls-handshake-failure`) with its
 *   reason, and the socket destroyed.
 * - With `proxyProtocol` enabled, all of the above (and everything after)
 *   sees the client address a balancer's PROXY header names (proxy-protocol.ts).
 *
 * Listeners call {@link AcceptGuard.upgraded} after a WebSocket handshake and
 * {@link AcceptGuard.admitted} once the hello has arrived.
 */
import type { Server, Socket } from 'node:net';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Guard } from '../guard/guard.js';
import type { ListenerLimits, ProxyProtocolConfig } from '../config/types.js';
import { tlsHandshakeFailure } from '../security/tls.js';
import { readClientHelloFirst, type ClientHelloFingerprint } from '../security/client-hello.js';
import { acceptProxyProtocol } from './proxy-protocol.js';

/** The message that admits a connection, for the `slow-client` report. */
export interface Hello {
  /** As the report names it: 'CONNECT', 'open', 'request'. */
  readonly name: string;
  /** The spec clause that bounds the wait for it. */
  readonly clause?: string;
}

export interface AcceptGuardOptions {
  readonly listener: string;
  readonly limits: Pick<ListenerLimits, 'maxConnections' | 'connectTimeoutMs'>;
  readonly guard: Guard;
  readonly hello: Hello;
  /** A WebSocket upgrade comes between the TLS handshake (if any) and the hello. */
  readonly websocket?: boolean;
  /** The listener's `proxyProtocol`: the client's address comes from a balancer's PROXY header (proxy-protocol.ts). */
  readonly proxyProtocol?: ProxyProtocolConfig | undefined;
  /** Called once per socket refused at the connection limit (protocol metrics). */
  readonly onRefused?: () => void;
  /** Called once per socket closed at the deadline (protocol metrics). */
  readonly onExpired?: () => void;
}

type Stage = 'tls' | 'upgrade' | 'hello';

const STAGE_NAMES: Readonly<Record<Exclude<Stage, 'hello'>, string>> = { tls: 'TLS handshake', upgrade: 'WebSocket upgrade' };

/** One accepted socket on its way to admission. */
interface Pending {
  readonly socket: Socket;
  readonly remoteAddress: string;
  stage: Stage;
  timer: NodeJS.Timeout | undefined;
  /** Destroyed by the deadline: the TLS error that follows is ours, not the peer's. */
  expired: boolean;
}

const PENDING = Symbol('thinggate.accept.pending');

type Tracked = Socket & { [PENDING]?: Pending };

export class AcceptGuard {
  private readonly pending = new Set<Pending>();
  private tls = false;

  constructor(private readonly options: AcceptGuardOptions) {}

  /** Installs the limit, the deadline and the TLS failure report on a server before it listens. */
  attach(server: Server): void {
    this.tls = server instanceof TlsServer;
    // The ClientHello fingerprint is read before TLS sees the bytes (security/client-hello.ts);
    // a banned JA4 / JA3 is refused there, before the handshake starts.
    if (this.tls) readClientHelloFirst(server, (socket, hello) => this.refuseHello(socket, hello));
    // Before any 'connection' listener (TLS's, the ban check below) sees the socket, its PROXY header is read.
    const { proxyProtocol, listener, guard, limits } = this.options;
    if (proxyProtocol?.enabled) acceptProxyProtocol(server, { listener, config: proxyProtocol, guard, timeoutMs: limits.connectTimeoutMs });
    server.maxConnections = this.options.limits.maxConnections;
    server.on('drop', (data?: { remoteAddress?: string }) => this.onDrop(data?.remoteAddress));
    server.on('connection', (socket: Socket) => this.onConnection(socket));
    if (this.tls) {
      server.on('secureConnection', (socket: TLSSocket) => this.onSecure(socket));
      server.on('tlsClientError', (err: Error, socket: TLSSocket) => this.onTlsError(err, socket));
    }
  }

  /** The WebSocket handshake on `socket` (the HTTP request's socket) is done. */
  upgraded(socket: Socket): void {
    const p = pendingOf(socket);
    if (p && p.stage === 'upgrade') p.stage = 'hello';
  }

  /** The hello arrived on `socket` (plain, TLS, or the HTTP request's socket): the deadline no longer applies. */
  admitted(socket: Socket): void {
    const p = pendingOf(socket);
    if (p) this.settle(p);
  }

  /** Destroys every socket not yet admitted (listener stop). */
  stop(): void {
    for (const p of [...this.pending]) {
      this.settle(p);
      p.socket.destroy();
    }
  }

  private onDrop(remoteAddress: string | undefined): void {
    const { listener, limits, guard } = this.options;
    this.options.onRefused?.();
    guard.report({
      kind: 'connection-limit',
      listener,
      remoteAddress: remoteAddress ?? 'unknown',
      detail: `connection refused at accept: ${limits.maxConnections} sockets open (limits.maxConnections)`,
    });
  }

  private onConnection(socket: Socket): void {
    // A banned address is dropped before TLS or any protocol byte is read.
    const { guard, listener } = this.options;
    const address = socket.remoteAddress ?? 'unknown';
    if (guard.refuseAddress(listener, address) || !guard.admitConnection(listener, address)) {
      socket.destroy();
      return;
    }
    const p: Pending = {
      socket,
      remoteAddress: socket.remoteAddress ?? 'unknown',
      stage: this.tls ? 'tls' : this.options.websocket ? 'upgrade' : 'hello',
      timer: undefined,
      expired: false,
    };
    p.timer = setTimeout(() => this.expire(p), this.options.limits.connectTimeoutMs);
    p.timer.unref();
    (socket as Tracked)[PENDING] = p;
    this.pending.add(p);
    socket.once('close', () => this.settle(p));
  }

  /** A banned ClientHello fingerprint: the socket leaves the accept record (its close is no time-out). */
  private refuseHello(socket: Socket, hello: () => ClientHelloFingerprint | undefined): boolean {
    const { guard, listener } = this.options;
    // The fingerprint is computed here only while a JA4 or JA3 ban is in force.
    if (!guard.hasHelloBans()) return false;
    const fp = hello();
    if (!fp || !guard.refuseHello(listener, socket.remoteAddress ?? 'unknown', fp)) return false;
    const p = pendingOf(socket);
    if (p) this.settle(p);
    return true;
  }

  private onSecure(socket: TLSSocket): void {
    const p = pendingOf(socket);
    if (p && p.stage === 'tls') p.stage = this.options.websocket ? 'upgrade' : 'hello';
  }

  private onTlsError(err: Error, socket: TLSSocket): void {
    const p = pendingOf(socket);
    socket.destroy();
    if (p?.expired) return;
    if (p) this.settle(p);
    this.options.guard.report({
      kind: 'tls-handshake-failure',
      listener: this.options.listener,
      remoteAddress: p?.remoteAddress ?? socket.remoteAddress ?? 'unknown',
      clause: 'RFC8446-6',
      detail: tlsHandshakeFailure(err),
    });
  }

  private expire(p: Pending): void {
    if (!this.pending.has(p)) return;
    this.settle(p);
    p.expired = true;
    const { listener, limits, hello, guard } = this.options;
    const partial = p.stage === 'hello' && !this.tls && p.socket.bytesRead > 0 ? ` (partial: ${p.socket.bytesRead} bytes received)` : '';
    const what = p.stage === 'hello' ? `complete ${hello.name}` : STAGE_NAMES[p.stage];
    guard.report({
      kind: 'slow-client',
      listener,
      remoteAddress: p.remoteAddress,
      ...(p.stage === 'hello' && hello.clause !== undefined && { clause: hello.clause }),
      detail: `no ${what} within ${limits.connectTimeoutMs} ms${partial}`,
    });
    this.options.onExpired?.();
    p.socket.destroy();
  }

  private settle(p: Pending): void {
    if (!this.pending.delete(p)) return;
    clearTimeout(p.timer);
    p.timer = undefined;
  }
}

/**
 * The accept record of a socket, or of the TCP socket under a TLS socket:
 * node's server-side TLSSocket keeps the accepted socket as `_parent`
 * (lib/_tls_wrap.js) and offers no public accessor for it.
 */
function pendingOf(socket: Socket): Pending | undefined {
  return (socket as Tracked)[PENDING] ?? ((socket as { _parent?: Tracked | null })._parent ?? undefined)?.[PENDING];
}
