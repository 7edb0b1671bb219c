/**
 * What the message path (on-message.ts) sees of an AMQP connection, and
 * what every connection of one listener shares. AmqpConnection implements
 * MessagePathConnection; on-message.ts depends on this interface rather
 * than on the class, so connection.ts can import it without a cycle.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Identity, Source, TlsInfo } from '../../envelope/index.js';
import type { ListenerContext } from '../listener.js';
import type { AmqpListenerOptions } from '../../config/types.js';
import type { ListenerCounters } from '../listener-counters.js';
import type { AmqpMetrics } from './metrics.js';
import type { AmqpDeviceClient, AmqpDeviceClients } from './device-clients.js';
import type { InboundLink } from './inbound-link.js';
import type { RheaContainer, RheaReceiver } from './rhea-types.js';
import type { LimitKeys, Limiter } from '../../guard/limiter.js';

/** What every connection of one listener shares. */
export interface ConnectionDeps<C = MessagePathConnection> {
  readonly ctx: ListenerContext;
  readonly options: AmqpListenerOptions;
  readonly maxFrameBytes: number;
  readonly metrics: AmqpMetrics;
  readonly clients: AmqpDeviceClients;
  readonly container: RheaContainer;
  readonly counters: ListenerCounters;
  /** The listener's rate limits (guard.limits with its overrides). */
  readonly limiter: Limiter;
  /** True once the listener is stopping: no new credit is granted. */
  readonly isDraining: () => boolean;
  /** Called with +1 / -1 as deliveries enter and leave the pipeline (each link's InboundLink calls it). */
  readonly onInflight: (delta: number) => void;
  /** Called when the peer's open frame arrived on `socket`: the accept deadline no longer applies. */
  readonly onOpen: (socket: Socket | TLSSocket) => void;
  onClosed(c: C): void;
}

/** One AMQP connection as the message path sees it. */
export interface MessagePathConnection {
  readonly deps: ConnectionDeps;
  readonly log: Logger;
  readonly remoteAddress: string;
  readonly remotePort: number | undefined;
  readonly tls: TlsInfo | undefined;
  readonly clientId: string;
  readonly identity: Identity | undefined;
  /** The source every envelope of this connection shares, once admitted. */
  readonly source: Source | undefined;
  /** The device's reply links (receiver links it attached), once admitted. */
  readonly client: AmqpDeviceClient | undefined;
  /** The link state of one of the device's sender links (our receivers); undefined once it was dropped. */
  inboundLink(receiver: RheaReceiver): InboundLink | undefined;
  /** Rate-limit bucket keys, once admitted. */
  readonly limitKeys: LimitKeys | undefined;
  /** True while no new deliveries may be taken (admission pending, closing, draining). */
  readonly paused: boolean;
  /** Runs `fn` at the end of this turn of the event loop (settlements leave in one write). */
  defer(fn: () => void): void;
  /** Counts a protocol violation and reports it to the guard. */
  report(kind: string, clause: string, detail: string): void;
}
