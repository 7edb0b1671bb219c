/**
 * The contract between a plugin's stream protocol and thinggate's listener
 * hosts (stream-listener.ts over TCP, datagram-listener.ts over UDP): what
 * the host offers one connection, and what the plugin's per-connection
 * state machine implements. Plugins import these types from
 * src/plugins/stream-listener.js, which re-exports them.
 */
import type { Logger } from 'pino';
import type { Delivery, Outcome } from '../envelope/index.js';
import type { QoS } from '../devices/registry.js';

/** One message a stream protocol hands to the pipeline. */
export interface StreamMessage {
  readonly address: string;
  readonly payload: Buffer;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
  /** Default at-least-once: the outcome comes after the back-end's answer. */
  readonly delivery?: Delivery;
}

/** What the host offers one connection's (or, over UDP, one source's) protocol state machine. */
export interface StreamConnection {
  readonly listener: string;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  /** UDP: each `onData` call is one whole datagram, and `write` sends one datagram to the source. */
  readonly datagram: boolean;
  /** `limits.maxPacketBytes`: the largest frame the protocol should accept. */
  readonly maxFrameBytes: number;
  readonly logger: Logger;
  /**
   * The device identified itself: `clientId` applies at once and admission runs (onConnect scripts,
   * authenticators); messages published meanwhile wait for it. Resolves false when refused (the connection is then closed).
   * Once admitted, a session with `deliver` is present in the device registry: commands for the client id reach it.
   */
  identify(clientId: string): Promise<boolean>;
  /** The client id given to `identify`, if any. */
  readonly clientId: string | undefined;
  /**
   * Subscribes the admitted device to an address filter (MQTT filter syntax), so script `publish()`
   * and `target: devices` routes reach its `deliver` too. Throws before admission.
   */
  subscribe(filter: string, qos?: QoS): void;
  /** Hands one message to the pipeline; `onOutcome` runs with its Outcome (errors it throws close the connection). */
  publish(message: StreamMessage, onOutcome?: (outcome: Outcome) => void): void;
  /** Writes one frame; `onWritten` runs once it was handed to the operating system. */
  write(bytes: Uint8Array, onWritten?: () => void): void;
  /** Closes the connection (UDP: forgets the source) after `ms` without input; 0 turns it off. */
  idleTimeout(ms: number): void;
  /** A protocol violation: reported to the guard with `detail`, then the socket is closed (UDP: the source forgotten). */
  fail(detail: string, clause?: string): void;
}

/** One connection's protocol state machine. */
export interface StreamSession {
  /** Bytes arrived (in order; UDP: one datagram). May throw: the connection is closed. */
  onData(chunk: Buffer): void;
  /**
   * Southbound: encode `message` into the protocol's frame, write it, and call `message.settle`
   * once the device has it (written, or acknowledged). False when it cannot take it now (then
   * `settle` must not be called). What is taken and unsettled when the connection closes settles false.
   */
  deliver?(message: StreamDelivery): boolean;
  onClose?(): void;
}

export interface StreamProtocol {
  /** Called at accept (UDP: at a new source's first datagram) with the listener's `listeners[].<name>` options. */
  open(connection: StreamConnection, options: unknown): StreamSession;
}

/** A message toward the device, as the plugin's `StreamSession.deliver` gets it. */
export interface StreamDelivery {
  readonly address: string;
  readonly payload: Buffer;
  /** 0: settle once written; 1 and 2: once the device acknowledged it, where the protocol can. */
  readonly qos: QoS;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly correlationId?: string;
  readonly replyTo?: string;
  /** Milliseconds since the epoch after which the message is void. */
  readonly expiresAt?: number;
  /** The device has it (true) or will not get it from this peer (false, with a reason). Only the first call counts. */
  settle(delivered: boolean, reason?: string): void;
}
