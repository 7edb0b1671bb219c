/**
 * How a store that keeps messages outside the process (on disk, in Redis)
 * turns the caller's message type into text and back. state/ knows nothing
 * above envelope/, so the owner of the message shape (devices/ for
 * DeviceMessage) hands the codec in. A message that does not decode (a
 * record written by an incompatible version) is dropped by the store.
 */
export interface MessageCodec<M> {
  encode(message: M): string;
  /** Undefined when `text` is not a message of this codec. */
  decode(text: string): M | undefined;
}

/** JSON as it is: for message types that are plain data (tests, records). */
export function jsonCodec<M>(): MessageCodec<M> {
  return {
    encode: (m) => JSON.stringify(m),
    decode: (text) => {
      try {
        return JSON.parse(text) as M;
      } catch {
        return undefined;
      }
    },
  };
}
