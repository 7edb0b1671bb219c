/**
 * Decisions: what a route or a script says to do with one message. Static
 * routes produce one `route` (or `publish`) decision; scripts may return
 * several (fan-out). Each is a plain object, so a script can build it by hand.
 */
export interface RouteDecision {
  readonly action: 'route';
  /** Pool name; a script route with a `pool` in its configuration may omit it. */
  readonly pool?: string;
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Bytes, a string (UTF-8) or a JSON value; absent = the message payload. */
  readonly body?: unknown;
  /** Affinity key for consistent hashing; default the client id. */
  readonly key?: string;
  /** The back-end's response becomes the device's reply. */
  readonly reply?: boolean;
}

export interface ReplyDecision {
  readonly action: 'reply';
  readonly payload: unknown;
  readonly contentType?: string;
  /** HTTP-style status of the reply; default 200. */
  readonly code?: number;
}

export interface DropDecision {
  readonly action: 'drop';
  readonly reason?: string;
}

export interface RejectDecision {
  readonly action: 'reject';
  readonly reason: string;
  /** HTTP-style 4xx status; default 400. */
  readonly code?: number;
}

export interface PublishDecision {
  readonly action: 'publish';
  readonly topic: string;
  readonly payload: unknown;
  readonly qos?: 0 | 1 | 2;
  readonly retain?: boolean;
  readonly headers?: Readonly<Record<string, string>>;
  readonly contentType?: string;
}

/** A command (notification) for one device, queued in its mailbox (devices/commands) and delivered when it is reachable. */
export interface CommandDecision {
  readonly action: 'command';
  readonly clientId: string;
  readonly payload: unknown;
  /** Default: the configured commands.address. */
  readonly address?: string;
  readonly qos?: 0 | 1 | 2;
  readonly ttlMs?: number;
  readonly contentType?: string;
}

export type Decision = RouteDecision | ReplyDecision | DropDecision | RejectDecision | PublishDecision | CommandDecision;

/** Turns a decision body or payload (bytes, string, JSON value) into bytes and a default content type. */
export function toBytes(value: unknown): { bytes: Buffer; contentType?: string } {
  if (value === undefined || value === null) return { bytes: Buffer.alloc(0) };
  if (Buffer.isBuffer(value)) return { bytes: value };
  if (value instanceof Uint8Array) return { bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength) };
  if (value instanceof ArrayBuffer) return { bytes: Buffer.from(value) };
  if (typeof value === 'string') return { bytes: Buffer.from(value, 'utf8'), contentType: 'text/plain; charset=utf-8' };
  return { bytes: Buffer.from(JSON.stringify(value), 'utf8'), contentType: 'application/json' };
}
