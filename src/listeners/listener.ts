/**
 * The Listener extension point. A listener owns one socket, turns its
 * protocol's frames into Envelopes, hands them to the Pipeline and maps the
 * Outcome back into its protocol. It knows nothing about pools or scripts.
 */
import type { Logger } from 'pino';
import type { AddressInfo } from 'node:net';
import type { Pipeline } from '../envelope/index.js';
import type { ListenerConfig } from '../config/types.js';
import type { DeviceMessage, DeviceRegistry } from '../devices/registry.js';
import type { Metrics } from '../observability/metrics.js';
import type { Guard } from '../guard/guard.js';

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
  /** Folder of the configuration file; relative paths in the listener's configuration (TLS material) resolve against it. Defaults to the working directory. */
  readonly baseDir?: string;
}

export interface ListenerStats {
  readonly connections: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly protocolErrors: number;
}

export interface Listener {
  readonly name: string;
  readonly protocol: ListenerConfig['protocol'];
  /** Binds the socket. Rejects when it cannot (port in use, bad TLS material). */
  start(): Promise<void>;
  /**
   * Stops accepting. With `drain`, waits (up to `timeoutMs`) for in-flight
   * messages to finish and their acknowledgements to be sent before closing
   * connections; without, closes at once.
   */
  stop(options?: { drain?: boolean; timeoutMs?: number }): Promise<void>;
  /** The bound address once started (port 0 in tests resolves here). */
  address(): AddressInfo | null;
  /** Southbound: deliver one message to a connected device; false when it cannot take it now. */
  deliver(clientId: string, message: DeviceMessage): boolean;
  stats(): ListenerStats;
}

/** Builds a listener from its configuration. One per protocol, registered in listeners/index.ts. */
export type ListenerFactory = (context: ListenerContext) => Listener;
