/**
 * A session's pending message as text, for the stores that keep sessions
 * outside the process (embedded durable, Redis): the message by the
 * caller's codec, the delivery fields as they are.
 */
import type { MessageCodec } from './codec.js';
import type { PendingMessage } from './sessions.js';

interface StoredPending {
  readonly m: string;
  readonly q: 0 | 1 | 2;
  readonly b: number;
  readonly i?: readonly number[];
  readonly k?: number;
  readonly r?: boolean;
}

export function encodePending<M>(codec: MessageCodec<M>, p: PendingMessage<M>): string {
  const stored: StoredPending = {
    m: codec.encode(p.message),
    q: p.qos,
    b: p.bytes,
    ...(p.subscriptionIds && { i: p.subscriptionIds }),
    ...(p.packetId !== undefined && { k: p.packetId }),
    ...(p.released && { r: true }),
  };
  return JSON.stringify(stored);
}

/** Undefined when the text or its message does not decode. */
export function decodePending<M>(codec: MessageCodec<M>, text: string): PendingMessage<M> | undefined {
  let p: StoredPending;
  try {
    p = JSON.parse(text) as StoredPending;
  } catch {
    return undefined;
  }
  const message = typeof p?.m === 'string' ? codec.decode(p.m) : undefined;
  if (message === undefined) return undefined;
  return {
    message,
    qos: p.q,
    bytes: p.b,
    ...(p.i && { subscriptionIds: p.i }),
    ...(p.k !== undefined && { packetId: p.k }),
    ...(p.r && { released: true }),
  };
}
