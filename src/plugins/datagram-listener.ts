/**
 * A listener host for datagram protocols contributed by plugins
 * (`api.registerStreamListener({ transport: 'udp' })`): one UDP socket, and
 * one peer (stream-peer.ts) per source address and port, to which the
 * plugin's protocol state machine is opened at the source's first datagram.
 * Each `onData` call is one whole datagram; `write` sends one datagram back
 * to the source.
 *
 * Per-source state is bounded: at most `limits.maxConnections` sources (a
 * new source beyond that is dropped and reported as `connection-limit`),
 * and a source silent for its idle timeout (`conn.idleTimeout`, else
 * {@link DEFAULT_IDLE_MS}) is forgotten unless messages of it are still in
 * the pipeline. At `limits.maxInflight` a source's datagrams are dropped
 * until one completes (UDP has no flow control: the device sends again).
 * A banned source address gets no answer at all.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP, type AddressInfo } from 'node:net';
import type { Protocol } from '../envelope/index.js';
import type { DeviceMessage } from '../devices/registry.js';
import type { Listener, ListenerContext, ListenerStats } from '../listeners/listener.js';
import { bindUdp, literalLookup } from '../listeners/listen.js';
import { drained, StreamPeer, type PeerHost } from './stream-peer.js';
import type { StreamProtocol } from './stream-contract.js';
import type { StreamSubscriber } from './stream-southbound.js';

/** A source is forgotten after this long without a datagram, unless its protocol sets another timeout. */
export const DEFAULT_IDLE_MS = 120_000;

/** How often idle sources are looked for. */
const SWEEP_INTERVAL_MS = 1000;

interface Source {
  readonly peer: StreamPeer;
  lastSeen: number;
  idleMs: number;
  paused: boolean;
}

export class DatagramListener implements Listener, PeerHost {
  readonly name: string;
  readonly protocol: Protocol;
  readonly subscribers = new Map<string, StreamSubscriber>();
  readonly counts = { messagesIn: 0, messagesOut: 0, protocolErrors: 0 };
  private socket?: Socket;
  private sweeper?: NodeJS.Timeout;
  private readonly sources = new Map<string, Source>();
  /** Datagrams dropped at maxInflight or at the source limit. */
  dropped = 0;

  constructor(
    readonly context: ListenerContext,
    readonly impl: StreamProtocol,
    readonly options: unknown,
    private readonly now: () => number = Date.now,
  ) {
    this.name = context.config.name;
    this.protocol = context.config.protocol as Protocol;
  }

  async start(): Promise<void> {
    const { host, port } = this.context.config;
    const socket = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4', reuseAddr: false, lookup: literalLookup });
    socket.on('message', (datagram, rinfo) => this.onDatagram(socket, datagram, rinfo.address, rinfo.port));
    await bindUdp(socket, this.name, host, port);
    socket.on('error', (err) => this.context.logger.warn({ err }, 'listener socket error'));
    this.socket = socket;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  async stop(options: { drain?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    this.socket = undefined;
    clearInterval(this.sweeper);
    if (options.drain) await drained(() => [...this.sources.values()].map((s) => s.peer), options.timeoutMs ?? 0);
    for (const key of [...this.sources.keys()]) this.forget(key);
    await new Promise<void>((r) => socket.close(() => r()));
  }

  address(): AddressInfo | null {
    return this.socket?.address() ?? null;
  }

  deliver(clientId: string, message: DeviceMessage): boolean {
    return this.subscribers.get(clientId)?.deliver(message, message.qos) ?? false;
  }

  stats(): ListenerStats {
    return { ...this.counts, connections: this.sources.size };
  }

  private onDatagram(socket: Socket, datagram: Buffer, address: string, port: number): void {
    const { guard, config } = this.context;
    if (guard.refuseDatagram(this.name, address)) return;
    const key = `${address}|${port}`;
    let source = this.sources.get(key);
    if (!source) {
      if (this.sources.size >= config.limits.maxConnections) {
        this.dropped++;
        guard.report({
          kind: 'connection-limit',
          listener: this.name,
          remoteAddress: address,
          detail: `datagram dropped: ${config.limits.maxConnections} sources known (limits.maxConnections)`,
        });
        return;
      }
      source = this.open(socket, key, address, port);
      if (!this.sources.has(key)) return; // the plugin's open threw: the source is forgotten already
    }
    source.lastSeen = this.now();
    if (source.paused) {
      this.dropped++;
      return;
    }
    source.peer.data(datagram);
  }

  private open(socket: Socket, key: string, remoteAddress: string, remotePort: number): Source {
    // The plugin's open runs inside the peer's constructor, before `source` exists: its idle timeout is kept here.
    let source: Source | undefined;
    let idleMs = DEFAULT_IDLE_MS;
    const peer = new StreamPeer(this, {
      remoteAddress,
      remotePort,
      datagram: true,
      write: (bytes, onWritten) => socket.send(bytes, remotePort, remoteAddress, onWritten && ((err) => err || onWritten())),
      destroy: () => this.forget(key),
      pause: () => source && (source.paused = true),
      resume: () => source && (source.paused = false),
      admitted: () => undefined,
      idleTimeout: (ms) => {
        idleMs = ms;
        if (source) source.idleMs = ms;
      },
    });
    source = { peer, lastSeen: this.now(), idleMs, paused: false };
    // A peer whose open failed was destroyed in its constructor, before it could be known.
    if (!peer.isClosed) this.sources.set(key, source);
    else peer.ended();
    return source;
  }

  private forget(key: string): void {
    const source = this.sources.get(key);
    if (!source) return;
    this.sources.delete(key);
    source.peer.ended();
  }

  /** Forgets the sources idle longer than their timeout with nothing in the pipeline. */
  private sweep(): void {
    const now = this.now();
    for (const [key, s] of this.sources) {
      if (s.idleMs > 0 && now - s.lastSeen >= s.idleMs && s.peer.inflight === 0) this.forget(key);
    }
  }
}

/** Builds a Listener for a datagram protocol (the registry's `create` for `registerStreamListener({ transport: 'udp' })`). */
export function datagramListener(protocol: StreamProtocol): (context: ListenerContext, options: unknown) => Listener {
  return (context, options) => new DatagramListener(context, protocol, options);
}
