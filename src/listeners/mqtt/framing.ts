/**
 * Fixed-header pre-scan. Every chunk read from the socket passes through a
 * FrameGuard before mqtt-packet sees it, so a packet whose Remaining Length
 * exceeds the Maximum Packet Size is refused from its header alone — a peer
 * announcing 256 MB never makes the listener buffer it (MQTT 5.0 §3.1.2.11.4,
 * [MQTT-3.2.2-15] for the server side). Cost: a few operations per packet,
 * payload bytes are skipped arithmetically.
 */

export type FrameProblem =
  | { readonly kind: 'oversize'; readonly size: number }
  /** More than four Remaining Length bytes (MQTT 5.0 §1.5.5, [MQTT-1.5.5-1]). */
  | { readonly kind: 'malformed-length' };

export class FrameGuard {
  /** Body bytes of the current packet still to pass. */
  private skip = 0;
  /** 0: expecting a packet type byte; n > 0: type byte plus n-1 length bytes seen. */
  private headerBytes = 0;
  private length = 0;
  private multiplier = 1;

  constructor(private readonly maxBytes: number) {}

  /** True while a packet is partly received. */
  get midPacket(): boolean {
    return this.skip > 0 || this.headerBytes > 0;
  }

  /** Scans one chunk; returns the first problem found, if any. */
  scan(chunk: Uint8Array): FrameProblem | undefined {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, n - i);
        this.skip -= take;
        i += take;
        continue;
      }
      if (this.headerBytes === 0) {
        this.headerBytes = 1;
        this.length = 0;
        this.multiplier = 1;
        i++;
        continue;
      }
      const b = chunk[i++]!;
      this.length += (b & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.headerBytes++;
      if (b & 0x80) {
        if (this.headerBytes === 5) return { kind: 'malformed-length' };
        continue;
      }
      const size = this.headerBytes + this.length;
      if (size > this.maxBytes) return { kind: 'oversize', size };
      this.skip = this.length;
      this.headerBytes = 0;
    }
    return undefined;
  }
}
