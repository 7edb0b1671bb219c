/**
 * The Listener extension point. A listener owns one socket, turns its
 * protocol's frames into Envelopes, hands them to the Pipeline and maps the
 * Outcome back into its protocol. It knows nothing about pools or scripts.
 */
import type { Logger } from 'pino';
import type { AddressInfo } from 'node:net';
import type { Pipeline, TlsInfo } from '../envelope/index.js';
import type { ListenerConfig } from '../config/types.js';
import type { DeviceMessage, DeviceRegistry } from '../devices/registry.js';
import type { Metrics } from '../observability/metrics.js';
import type { Guard } from '../guard/guard.js';
import type { SessionStore } from '../state/sessions.js';

/** The contracts a listener shares with the pipeline live with the envelope; re-exported for listener implementations. */
export type { Admission, ClientInfo, Pipeline } from '../envelope/index.js';

/** Everything a listener is given by the composition root. */
export interface ListenerContext {
  readonly config: ListenerConfig;
  readonly pipeline: Pipeline;
  readonly devices: DeviceRegistry;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly guard: Guard;
  /** Persistent device sessions, shared by the gateway's listeners (a listener without one keeps its own). */
  readonly sessions?: SessionStore<DeviceMessage>;
  /** Folder of the configuration file; relative paths in the listener's configuration (TLS material) resolve against it. Defaults to the working directory. */
  readonly baseDir?: string;
}

export interface ListenerStats {
  readonly connections: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly protocolErrors: number;
}

/** One open device connection, as the admin API lists it. */
export interface ConnectionInfo {
  readonly listener: string;
  readonly protocol: string;
  /** Empty until the protocol's hello (CONNECT, AMQP open) named one. */
  readonly clientId: string;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  /** Authenticated principal, when there is one. */
  readonly identity?: string;
  /** E.g. 'mqtt 5', 'mqtt 3.1.1'. */
  readonly protocolVersion?: string;
  readonly state: string;
  /** Messages awaiting their outcome, where the listener counts them per connection. */
  readonly inflight?: number;
  /** TLS or DTLS handshake facts (version, cipher, PSK identity, client certificate, ClientHello fingerprint). */
  readonly tls?: TlsInfo;
}

export interface Listener {
  readonly name: string;
  readonly protocol: ListenerConfig['protocol'];
  /** Binds the socket. Rejects when it cannot (port in use, bad TLS material). */
  start(): Promise<void>;
  /**
   * Stops accepting. With `drain`, waits (up to `timeoutMs`) for in-flight
   * messages to finish and their acknowledgements to be sent before closing
   * connections; without, closes at once. With `final` the gateway stops
   * (nothing restarts this listener): what it keeps between connections and
   * would write later (parked sessions' expiry timers) ends before the
   * stores close.
   */
  stop(options?: { drain?: boolean; timeoutMs?: number; final?: boolean }): Promise<void>;
  /** The bound address once started (port 0 in tests resolves here). */
  address(): AddressInfo | null;
  /** Southbound: deliver one message to a connected device; false when it cannot take it now. */
  deliver(clientId: string, message: DeviceMessage): boolean;
  stats(): ListenerStats;
  /** Open connections (admin API); absent where the protocol has none (CoAP). */
  listConnections?(): ConnectionInfo[];
  /**
   * Closes the connection of `clientId` with the protocol's administrative
   * reason (MQTT 5 DISCONNECT 0x98, AMQP close with a condition); false when
   * no such client is connected here.
   */
  closeConnection?(clientId: string, reason: string): boolean;
}

/** Builds a listener from its configuration. One per protocol, registered in listeners/index.ts. */
export type ListenerFactory = (context: ListenerContext) => Listener;
