/**
 * Splits a connection's byte stream into whole MQTT packets. The fixed
 * header is read first, so a packet whose Remaining Length exceeds the
 * Maximum Packet Size is refused from its header alone — a peer announcing
 * 256 MB never makes the listener buffer it (MQTT 5.0 §3.1.2.11.4,
 * [MQTT-3.2.2-15] for the server side).
 *
 * Whole packets inside a chunk are handed on as views of it, without a copy;
 * only a packet split across reads is gathered, once its last byte arrived.
 * A message's payload therefore keeps its read alive until the message is
 * done (a TCP read is at most 64 KiB; a WebSocket message at most twice
 * `maxPacketBytes`): bounded, like every payload, by the connection's
 * in-flight limit.
 */

export type FrameProblem =
  | { readonly kind: 'oversize'; readonly size: number }
  /** More than four Remaining Length bytes, or more than the value needs (MQTT 5.0 §1.5.5, [MQTT-1.5.5-1]). */
  | { readonly kind: 'malformed-length'; readonly detail: string };

/**
 * Receives one whole packet: `frame` is its bytes (fixed header included),
 * `bodyStart` the offset of its variable header. Returning false stops the
 * chunk's remaining packets (the connection is closing).
 */
export type OnFrame = (frame: Buffer, bodyStart: number) => boolean;

/** A fixed header not yet complete. */
const INCOMPLETE = -1;

export class Framer {
  /** Bytes of a packet split across reads. */
  private parts: Buffer[] = [];
  private partsLength = 0;
  /** Size of that packet once its fixed header is known; 0 while the header itself is split. */
  private need = 0;

  constructor(private readonly maxBytes: number) {}

  /** True while a packet is partly received. */
  get midPacket(): boolean {
    return this.partsLength > 0;
  }

  /** Hands every whole packet of `chunk` (and of what came before it) to `onFrame`; returns the first problem found. */
  push(chunk: Buffer, onFrame: OnFrame): FrameProblem | undefined {
    let buf = chunk;
    if (this.partsLength > 0) {
      this.parts.push(chunk);
      this.partsLength += chunk.length;
      if (this.need > 0 && this.partsLength < this.need) return undefined;
      buf = Buffer.concat(this.parts, this.partsLength);
      this.parts = [];
      this.partsLength = 0;
      this.need = 0;
    }
    const n = buf.length;
    let i = 0;
    while (i < n) {
      // Remaining Length: 1–4 bytes after the packet type byte (MQTT 5.0 §1.5.5).
      let length = 0;
      let multiplier = 1;
      let j = i + 1;
      let headerEnd = INCOMPLETE;
      for (; j < n && j <= i + 4; j++) {
        const b = buf[j]!;
        length += (b & 0x7f) * multiplier;
        multiplier *= 128;
        if ((b & 0x80) === 0) {
          if (b === 0 && j > i + 1) return { kind: 'malformed-length', detail: 'remaining length not in its shortest form' };
          headerEnd = j + 1;
          break;
        }
      }
      if (headerEnd === INCOMPLETE) {
        if (j > i + 4) return { kind: 'malformed-length', detail: 'remaining length longer than four bytes' };
        this.keep(buf.subarray(i), 0);
        return undefined;
      }
      const size = headerEnd - i + length;
      if (size > this.maxBytes) return { kind: 'oversize', size };
      if (i + size > n) {
        this.keep(buf.subarray(i), size);
        return undefined;
      }
      if (!onFrame(buf.subarray(i, i + size), headerEnd - i)) return undefined;
      i += size;
    }
    return undefined;
  }

  private keep(rest: Buffer, need: number): void {
    this.parts.push(rest);
    this.partsLength = rest.length;
    this.need = need;
  }
}
