/**
 * A byte-level check of AMQP 1.0 framing, run on every chunk before rhea
 * sees it. rhea trusts the 4-byte frame size it reads and buffers until that
 * many bytes arrive, so a peer announcing a 4 GiB frame would grow memory
 * without bound; it also accepts frames of any type on any layer. The
 * scanner reads each 8-byte protocol or frame header and counts the body
 * bytes it lets through; of a body it keeps only the performative while
 * that spans chunks, to check its encoding (encoding-check.ts).
 */
import { measure } from './encoding-check.js';

/** Protocol ids of the 8-byte protocol header (AMQP 1.0 §2.2, §5.3.1). */
export const PROTOCOL_AMQP = 0;
export const PROTOCOL_SASL = 3;

/** Frame types (AMQP 1.0 §2.3.2, §5.3.1). */
const FRAME_TYPE_AMQP = 0;
const FRAME_TYPE_SASL = 1;

/** MIN-MAX-FRAME-SIZE (AMQP 1.0 §2.7.1, open/max-frame-size). */
export const MIN_MAX_FRAME_SIZE = 512;

const AMQP_MAGIC = 0x414d5150; // "AMQP"

export interface FramingViolation {
  /** `bad-header`: the peer should get our header back before the socket closes (§2.2). */
  /** `decode`: the frame is well framed but its performative's encoding is not (amqp:decode-error). */
  readonly kind: 'bad-header' | 'malformed' | 'oversize' | 'decode';
  readonly clause: string;
  readonly detail: string;
  /** Bytes of the chunk before the offending frame or header: whole frames the peer may still have answered. */
  readonly before?: number;
}

/** Tracks where a connection's byte stream is in AMQP framing. */
export class FrameScanner {
  private readonly head = Buffer.alloc(8);
  private headFill = 0;
  /** Body bytes of the current frame still to pass through. */
  private remaining = 0;
  /** Protocol id of the last header seen; undefined before the first. */
  private layer: number | undefined;
  private framesSeen = 0;
  private failed: FramingViolation | undefined;
  /** Body bytes of the current frame before its performative (the extended header, §2.3.1). */
  private skip = 0;
  /** Whether the current frame's performative is still to be checked. */
  private checking = false;
  /** The current frame's performative bytes so far, when it spans chunks. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Held bytes at which the performative is measured again. */
  private measureAt = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** True while a frame (or the protocol header) is partly received. */
  get midFrame(): boolean {
    return this.headFill > 0 || this.remaining > 0;
  }

  /** Frames whose header has been read so far. */
  get frames(): number {
    return this.framesSeen;
  }

  /** The layer the peer is on: 'sasl', 'amqp', or undefined before its protocol header. */
  get currentLayer(): 'sasl' | 'amqp' | undefined {
    return this.layer === undefined ? undefined : this.layer === PROTOCOL_SASL ? 'sasl' : 'amqp';
  }

  /** Checks one chunk. Returns the first violation; after one, every call returns it again. */
  push(chunk: Buffer): FramingViolation | undefined {
    if (this.failed) return this.failed;
    let offset = 0;
    // Where the frame or header being read began in this chunk (0 when it began in an earlier one).
    let unitStart = 0;
    while (offset < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - offset);
        this.remaining -= take;
        const v = this.checking ? this.check(chunk.subarray(offset, offset + take)) : undefined;
        if (v) return this.fail(v, unitStart);
        offset += take;
        continue;
      }
      if (this.headFill === 0) unitStart = offset;
      const take = Math.min(8 - this.headFill, chunk.length - offset);
      chunk.copy(this.head, this.headFill, offset, offset + take);
      this.headFill += take;
      offset += take;
      if (this.headFill < 8) break;
      this.headFill = 0;
      const v = this.head.readUInt32BE(0) === AMQP_MAGIC ? this.onProtocolHeader() : this.onFrameHeader();
      if (v) return this.fail(v, unitStart);
    }
    return undefined;
  }

  private fail(v: FramingViolation, before: number): FramingViolation {
    this.failed = v;
    return before > 0 ? { ...v, before } : v;
  }

  private onProtocolHeader(): FramingViolation | undefined {
    const id = this.head[4]!;
    const version = `${this.head[5]}.${this.head[6]}.${this.head[7]}`;
    if (version !== '1.0.0' || (id !== PROTOCOL_AMQP && id !== PROTOCOL_SASL)) {
      return { kind: 'bad-header', clause: 'AMQP-1.0-2.2', detail: `unsupported protocol header id ${id} version ${version}` };
    }
    // Only two orders are valid: AMQP alone, or SASL then AMQP once the SASL exchange is done (§5.1).
    if (this.layer === undefined || (this.layer === PROTOCOL_SASL && id === PROTOCOL_AMQP && this.framesSeen > 0)) {
      this.layer = id;
      return undefined;
    }
    return { kind: 'malformed', clause: 'AMQP-1.0-5.1', detail: `unexpected protocol header id ${id}` };
  }

  private onFrameHeader(): FramingViolation | undefined {
    if (this.layer === undefined) {
      return { kind: 'bad-header', clause: 'AMQP-1.0-2.2', detail: 'data before the protocol header' };
    }
    const size = this.head.readUInt32BE(0);
    const doff = this.head[4]!;
    const type = this.head[5]!;
    if (size > this.maxFrameBytes) {
      return { kind: 'oversize', clause: 'AMQP-1.0-2.7.1', detail: `frame of ${size} bytes exceeds max-frame-size ${this.maxFrameBytes}` };
    }
    // The data offset counts 4-byte words and covers at least the 8-byte header (§2.3.1).
    if (size < 8 || doff < 2 || doff * 4 > size) {
      return { kind: 'malformed', clause: 'AMQP-1.0-2.3.1', detail: `invalid frame header (size ${size}, doff ${doff})` };
    }
    const expected = this.layer === PROTOCOL_SASL ? FRAME_TYPE_SASL : FRAME_TYPE_AMQP;
    if (type !== expected) {
      return { kind: 'malformed', clause: 'AMQP-1.0-2.3.1', detail: `frame type ${type} on the ${this.currentLayer} layer` };
    }
    this.framesSeen++;
    this.remaining = size - 8;
    this.skip = doff * 4 - 8;
    // An empty frame (a heartbeat, §2.4.5) has no performative.
    this.checking = this.remaining > this.skip;
    this.held = [];
    this.heldBytes = 0;
    this.measureAt = 0;
    return undefined;
  }

  /** Checks the performative with the body bytes in `part`; `this.remaining` already counts them as read. */
  private check(part: Buffer): FramingViolation | undefined {
    const skipped = Math.min(this.skip, part.length);
    this.skip -= skipped;
    if (skipped === part.length) return undefined;
    this.held.push(part.subarray(skipped));
    this.heldBytes += part.length - skipped;
    // A performative dripping in is measured again only once its bytes have doubled: linear work in all.
    if (this.heldBytes < this.measureAt && this.remaining > 0) return undefined;
    const bytes = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held);
    if (bytes[0] !== 0x00) return this.decodeError('a frame body that does not start with a performative');
    const m = measure(bytes, 0, bytes.length);
    if (typeof m === 'number') {
      this.checking = false;
      this.held = [];
      return undefined;
    }
    if (m !== 'short') return this.decodeError(m.invalid);
    // The whole frame is here and the performative still runs on: it overruns its frame.
    if (this.remaining === 0) return this.decodeError('the performative overruns its frame');
    this.held = [bytes];
    this.measureAt = 2 * this.heldBytes;
    return undefined;
  }

  private decodeError(detail: string): FramingViolation {
    this.checking = false;
    this.held = [];
    return { kind: 'decode', clause: 'AMQP-1.0-1.2', detail };
  }
}
