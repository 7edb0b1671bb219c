/**
 * The parts of rhea's runtime objects this listener uses, typed. rhea's own
 * typings omit the server-side pieces (Connection.accept, local attach and
 * begin performatives, incoming delivery state), so they are described here
 * and the rhea objects are narrowed to them once, where they enter.
 */
import type { EventEmitter } from 'node:events';

export interface RheaTerminus {
  address?: string | null;
  dynamic?: boolean;
  [field: string]: unknown;
}

export interface RheaAttach {
  source?: RheaTerminus | null;
  target?: RheaTerminus | null;
  snd_settle_mode?: number;
  rcv_settle_mode?: number;
  max_message_size?: number;
}

export interface RheaError {
  readonly condition: string;
  readonly description: string;
}

export interface RheaSession extends EventEmitter {
  local: { begin: { handle_max?: number } };
  close(error?: RheaError): void;
}

export interface RheaLink extends EventEmitter {
  readonly name: string;
  readonly session: RheaSession;
  readonly connection: RheaConnection;
  credit: number;
  local: { attach: RheaAttach };
  remote: { attach?: RheaAttach };
  close(error?: RheaError): void;
  is_open(): boolean;
  is_closed(): boolean;
  set_source(fields: RheaTerminus): void;
  set_target(fields: RheaTerminus): void;
  /** A delivery whose transfer frames are still arriving. */
  _incomplete?: { frames?: Buffer[] };
}

export interface RheaReceiver extends RheaLink {
  add_credit(credit: number): void;
}

export interface RheaOutgoingDelivery {
  settled: boolean;
  readonly link: RheaLink;
}

export interface RheaSender extends RheaLink {
  sendable(): boolean;
  send(message: object): RheaOutgoingDelivery;
  session: RheaSession & {
    outgoing: { next_pending_delivery: number; next_delivery_id: number; deliveries: { by_id(id: number): RheaOutgoingDelivery | undefined } };
  };
}

export interface RheaIncomingDelivery {
  readonly remote_settled: boolean;
  settled: boolean;
  accept(): void;
  reject(error: RheaError): void;
  release(params?: { delivery_failed?: boolean; undeliverable_here?: boolean }): void;
  update(settled: boolean, state?: unknown): void;
}

export interface RheaOpen {
  container_id?: string;
  hostname?: string;
}

export interface RheaConnection extends EventEmitter {
  readonly options: { id: string };
  remote: { open?: RheaOpen };
  accept(socket: object): RheaConnection;
  close(error?: RheaError): void;
  is_open(): boolean;
  is_closed(): boolean;
  is_remote_open(): boolean;
}

/** The context object rhea passes with each event. */
export interface RheaContext {
  connection: RheaConnection;
  session?: RheaSession;
  receiver?: RheaReceiver;
  sender?: RheaSender;
  delivery?: RheaIncomingDelivery;
  message?: object;
  /** Set for message formats other than 0 (AMQP 1.0 §2.7.5); `message` is then the raw bytes. */
  format?: number;
  error?: unknown;
}

export interface RheaContainer extends EventEmitter {
  readonly id: string;
  sasl_server_mechanisms: object;
  create_connection(options: object): RheaConnection;
}
