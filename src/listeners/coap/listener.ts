/**
 * The CoAP listener (RFC 7252 over UDP, or over DTLS 1.2 with a `dtls`
 * section: coaps.ts): one datagram socket, the shared state in CoapCore, and
 * the Listener contract — start, stop (with drain), southbound delivery
 * through Observe or a command poll, and counters.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { DeviceMessage } from '../../devices/registry.js';
import { COAP_DEFAULTS } from '../../config/sections/listener-coap.js';
import { loadDtlsMaterial } from '../../security/dtls/material.js';
import { onTlsReload } from '../../security/tls-server.js';
import type { ConnectionInfo, Listener, ListenerContext, ListenerStats } from '../listener.js';
import { bindUdp, literalLookup } from '../listen.js';
import { CoapsTransport } from './coaps.js';
import { CoapCore } from './core.js';
import { onDatagram } from './handle-datagram.js';
import { ObserveManager } from './observe.js';
import { CoapCommandPolls } from './command-poll.js';

/** How often expired exchanges, transfers and idle sources are swept. */
const SWEEP_INTERVAL_MS = 5000;

export class CoapListener implements Listener {
  readonly name: string;
  readonly protocol = 'coap' as const;
  private readonly core: CoapCore;
  private socket?: Socket;
  private sweeper?: NodeJS.Timeout;
  private coaps?: CoapsTransport;
  /** Takes the DTLS material off the reload list (security/tls-server.ts) at stop. */
  private stopReload?: () => void;

  constructor(private readonly context: ListenerContext) {
    const { config, metrics } = context;
    this.name = config.name;
    const options = { ...COAP_DEFAULTS, ...config.coap };
    const events = metrics.counter(
      'thinggate_downstream_coap_events_total',
      'CoAP listener events (duplicates, separate responses, block transfers, observe, drops)',
      ['listener', 'event'],
    );
    const observe = new ObserveManager(config.name, context.devices, { maxPerSource: options.maxObservationsPerSource, queue: options.notificationQueue });
    this.core = new CoapCore(
      config.name,
      options,
      config.limits.maxPacketBytes,
      config.limits.maxInflight,
      context.pipeline,
      context.logger,
      context.guard,
      events,
      observe,
      config.limits.maxConnections,
      config.guard?.limits,
    );
    this.core.polls = new CoapCommandPolls(this.core, context.devices);
  }

  async start(): Promise<void> {
    const { host, port, dtls, limits } = this.context.config;
    const socket = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4', reuseAddr: false, lookup: literalLookup });
    // Bad DTLS material refuses the start before the port is bound (TG_ERR_TLS_MATERIAL).
    const material = dtls && loadDtlsMaterial(this.name, dtls, this.context.baseDir ?? process.cwd(), limits.maxConnections);
    const coaps = material && new CoapsTransport(this.core, material, (address, p, datagram) => socket.send(datagram, p, address));
    this.coaps = coaps;
    if (coaps && dtls) this.stopReload = onTlsReload({ reload: (why) => this.reloadDtls(why) });
    socket.on('message', (buf, rinfo) => {
      // A banned source gets no answer at all (guard/bans.ts).
      if (this.context.guard.refuseDatagram(this.name, rinfo.address)) return;
      try {
        if (coaps) coaps.handle(buf, rinfo.address, rinfo.port);
        else onDatagram(this.core, buf, rinfo);
      } catch (err) {
        // Only a broken internal invariant gets here; one datagram must not stop the listener.
        this.core.protocolErrors++;
        this.context.logger.error({ err, remoteAddress: rinfo.address }, 'coap datagram handling failed');
      }
    });
    await bindUdp(socket, this.name, host, port);
    this.sizeReceiveBuffer(socket);
    socket.on('error', (err) => this.context.logger.warn({ err }, 'coap socket error'));
    this.socket = socket;
    this.core.socket = socket;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /** Re-reads the DTLS files (SIGHUP, configuration reload); bad files keep the running set (logged with the path). */
  private reloadDtls(why: string): boolean {
    const { dtls, limits } = this.context.config;
    if (!dtls || !this.coaps) return false;
    try {
      this.coaps.server.reconfigure(loadDtlsMaterial(this.name, dtls, this.context.baseDir ?? process.cwd(), limits.maxConnections));
    } catch (err) {
      this.context.logger.error({ err, listener: this.name }, `DTLS material not reloaded, the running set stays: ${(err as Error).message}`);
      return false;
    }
    this.context.logger.info({ listener: this.name }, `DTLS material reloaded (${why})`);
    return true;
  }

  /**
   * Every device shares this one socket, so its receive buffer is what
   * absorbs a burst while the event loop is busy; the kernel drops the rest.
   * Linux caps the size at net.core.rmem_max (and reports double what it
   * grants): say so when the buffer came out smaller than configured.
   */
  private sizeReceiveBuffer(socket: Socket): void {
    const wanted = this.core.options.receiveBufferBytes;
    if (wanted === 0) return;
    try {
      socket.setRecvBufferSize(wanted);
      const granted = socket.getRecvBufferSize() / 2;
      if (granted < wanted) {
        this.context.logger.warn(
          { listener: this.name, wanted, granted },
          `coap receive buffer is ${granted} bytes, less than the ${wanted} configured (raise net.core.rmem_max)`,
        );
      }
    } catch (err) {
      this.context.logger.warn({ err, listener: this.name, wanted }, 'coap receive buffer size could not be set');
    }
  }

  async stop(options: { drain?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    const core = this.core;
    core.closing = true;
    core.polls?.clear();
    // In-flight requests get their answers and outstanding CONs their chance to be acknowledged.
    if (options.drain) await core.idle(options.timeoutMs ?? 10_000);
    clearInterval(this.sweeper);
    this.stopReload?.();
    // close_notify to every DTLS client (RFC 5246 §7.2.1) while the socket is still open.
    this.coaps?.stop();
    core.separate.clear();
    core.transmitter.cancelAll();
    core.observe.clear();
    core.conExchanges.clear();
    core.nonExchanges.clear();
    core.block1.clear();
    core.block2.clear();
    core.peers.clear();
    this.socket = undefined;
    core.socket = undefined;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  address(): AddressInfo | null {
    if (!this.socket) return null;
    return this.socket.address();
  }

  /** Southbound: a notification on the client's matching observation (RFC 7641). */
  deliver(clientId: string, message: DeviceMessage): boolean {
    if (this.core.polls?.deliver(clientId, message)) return true;
    const session = this.core.observe.session(clientId);
    return session ? session.deliver(message, message.qos) : false;
  }

  /** coaps: the DTLS associations with their handshake facts; plain CoAP has no connections. */
  listConnections(): ConnectionInfo[] {
    return this.coaps?.connections(this.name) ?? [];
  }

  /** coaps: ends the client's DTLS association with close_notify. */
  closeConnection(clientId: string, reason: string): boolean {
    return this.coaps?.close(clientId, reason) ?? false;
  }

  /** coaps: DTLS associations (established or in their handshake), those half-open, and HelloVerifyRequests sent. */
  dtlsState(): { associations: number; halfOpen: number; helloVerifyRequests: number } | undefined {
    const s = this.coaps?.server;
    return s && { associations: s.size, halfOpen: s.halfOpen, helloVerifyRequests: s.helloVerifyRequests };
  }

  stats(): ListenerStats {
    const c = this.core;
    return { connections: c.peers.size, messagesIn: c.messagesIn, messagesOut: c.messagesOut, protocolErrors: c.protocolErrors };
  }

  private sweep(): void {
    const now = Date.now();
    this.core.conExchanges.sweep(now);
    this.core.nonExchanges.sweep(now);
    this.core.peers.sweep(now);
    this.coaps?.sweep();
  }
}
