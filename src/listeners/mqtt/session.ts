/**
 * What the packet handlers, the Will and the outbound queue see of a
 * connection (MqttSession) and of its listener (ListenerShared).
 * MqttConnection implements MqttSession; the handlers depend on this
 * interface, not on the class, so that connection.ts can import them
 * without an import cycle.
 */
import type { IConnectPacket } from 'mqtt-packet';
import type { Logger } from 'pino';
import type { Envelope, Identity, Outcome, Source, TlsInfo } from '../../envelope/index.js';
import type { DeviceMessage, QoS, Subscriber } from '../../devices/registry.js';
import type { ListenerContext } from '../listener.js';
import type { ListenerLimits, MqttListenerOptions } from '../../config/types.js';
import type { MqttMetrics } from './metrics.js';
import type { PacketWriter } from './writer.js';
import type { SessionContext } from './persistence.js';
import type { InboundQos } from './inbound.js';
import type { Limiter } from '../../guard/limiter.js';

/** A Will message as CONNECT carries it [MQTT-3.1.2-8]. */
export type Will = NonNullable<IConnectPacket['will']>;

/** Lifecycle of a connection. */
export type ConnectionState = 'new' | 'connecting' | 'connected' | 'closed';

export { QOS2_DISPATCHING, QOS2_RECEIVED } from './inbound.js';

export interface RemoteInfo {
  readonly address: string;
  readonly port?: number;
  readonly tls?: TlsInfo;
}

/** What all connections of one listener share. `C` is the listener's connection type. */
export interface ListenerShared<C = MqttSession> {
  readonly ctx: ListenerContext;
  readonly name: string;
  readonly limits: ListenerLimits;
  readonly options: MqttListenerOptions;
  readonly metrics: MqttMetrics;
  /** The listener's rate limits (guard.limits with its overrides). */
  readonly limiter: Limiter;
  readonly connections: Set<C>;
  /** The gateway's session store and what parked sessions need. */
  readonly sessions: SessionContext;
  draining: boolean;
  messagesIn: number;
  messagesOut: number;
  protocolErrors: number;
  /** Called when a connection's in-flight count reaches zero or it closes (drain waits on it). */
  onSettled(): void;
  /** Called when the connection's CONNECT has arrived: the accept deadline no longer applies. */
  onConnect(c: C): void;
  /** Uncorks `writer` at the end of this event-loop turn (one setImmediate per listener, not per write). */
  scheduleFlush(writer: PacketWriter): void;
}

/** The acknowledgements of thinggate's own PUBLISHes to the client (outbound.ts). */
export interface OutboundAcks {
  onPuback(id: number): void;
  onPubrec(id: number, reasonCode: number): void;
  onPubcomp(id: number): void;
}

/** One MQTT connection as its packet handlers see it. */
export interface MqttSession extends Subscriber {
  clientId: string;
  readonly listener: string;
  /** Protocol level from CONNECT (4: 3.1.1, 5: 5.0); 0 before. */
  version: number;
  state: ConnectionState;
  log: Logger;
  source: Source;
  identity: Identity | undefined;
  will: Will | undefined;
  /** False once a DISCONNECT 0x00 (or a takeover by the same client) suppresses the Will. */
  sendWill: boolean;
  /** Session Expiry Interval from CONNECT (MQTT 5 §3.1.2.11.2); a DISCONNECT may change it only when it was not 0. */
  connectSessionExpiry: number;
  keepaliveMs: number;
  readonly topicAliases: Map<number, string>;
  /** Inbound QoS 1/2 accounting: the Receive Maximum quota and the open QoS 2 exchanges. */
  readonly inbound: InboundQos;
  readonly remote: RemoteInfo;
  readonly shared: ListenerShared;
  readonly wire: PacketWriter;
  readonly out: OutboundAcks & {
    /** The client's Receive Maximum: QoS 1 and 2 deliveries it accepts at once. */
    setReceiveMaximum(n: number): void;
  };
  /** How long the session outlives the connection (seconds; 0: it ends with it). */
  setSessionExpiry(seconds: number): void;
  /** Resumes (true: Session Present) or discards the stored session of the client id. */
  openSession(resume: boolean): Promise<boolean>;
  /** SUBSCRIBE or UNSUBSCRIBE changed the subscriptions (a persistent session writes them through). */
  subscriptionsChanged?(): void;
  /** Aborted once the connection starts closing. */
  readonly closedSignal: AbortSignal;
  flushBacklog(): void;
  beginConnect(version: number): void;
  established(clientId: string, identity: Identity | undefined): void;
  dispatch(env: Envelope): Promise<Outcome>;
  /**
   * Rate limits on one inbound PUBLISH of `bytes`: `go` dispatches it (reads
   * may pause for a while after it), `refuse` answers it 0x97 without
   * dispatching (MQTT 5, QoS 1/2, `mqtt5: puback`), `closed` means the
   * connection was closed with DISCONNECT 0x96/0x97.
   */
  admitPublish(qos: number, bytes: number): 'go' | 'refuse' | 'closed';
  /** Rate limits on one SUBSCRIBE filter: false when over (SUBACK 0x97 / 0x80). */
  admitSubscription(): boolean;
  settled(): void;
  deliver(message: DeviceMessage, qos: QoS, subscriptionIds?: readonly number[]): boolean;
  fail(err: unknown): void;
  closeWith(reasonCode: number, reason?: string): void;
  /** Closes this connection because another one claimed its client id [MQTT-3.1.4-3]. */
  takeOver(): void;
  end(): void;
}
