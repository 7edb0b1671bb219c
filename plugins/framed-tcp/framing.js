/**
 * Framing for plugins/framed-tcp: length-prefixed (an unsigned 1-, 2- or
 * 4-byte length of the rest of the frame, big- or little-endian) or
 * delimiter-terminated frames, read incrementally from a byte stream; over
 * UDP also `datagram` (each datagram is one frame, nothing added).
 */

/**
 * @typedef {object} Framing
 * @property {'length-prefixed' | 'delimiter' | 'datagram'} type
 * @property {1 | 2 | 4} [lengthBytes]
 * @property {'big' | 'little'} [byteOrder]
 * @property {string} [delimiter] hex
 */

export class FrameReader {
  /** @param {Framing} framing @param {number} maxFrameBytes */
  constructor(framing, maxFrameBytes) {
    this.framing = framing;
    this.max = maxFrameBytes;
    /** @type {Buffer} */
    this.buffered = Buffer.alloc(0);
    this.delimiter = Buffer.from(framing.delimiter ?? '0a', 'hex');
  }

  /**
   * The complete frames in what has arrived so far (without prefix or delimiter);
   * `null` in place of a frame longer than the limit (the connection must close).
   * @param {Buffer} chunk
   * @returns {Array<Buffer | null>}
   */
  push(chunk) {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    /** @type {Array<Buffer | null>} */
    const frames = [];
    let at = 0;
    const b = this.buffered;
    if (this.framing.type === 'length-prefixed') {
      const n = this.framing.lengthBytes ?? 2;
      const little = this.framing.byteOrder === 'little';
      while (b.length - at >= n) {
        const len = n === 1 ? b[at] : n === 2 ? (little ? b.readUInt16LE(at) : b.readUInt16BE(at)) : little ? b.readUInt32LE(at) : b.readUInt32BE(at);
        if (/** @type {number} */ (len) > this.max) return [...frames, null];
        if (b.length - at - n < /** @type {number} */ (len)) break;
        frames.push(b.subarray(at + n, at + n + /** @type {number} */ (len)));
        at += n + /** @type {number} */ (len);
      }
    } else {
      for (;;) {
        const end = b.indexOf(this.delimiter, at);
        if (end < 0) break;
        if (end - at > this.max) return [...frames, null];
        frames.push(b.subarray(at, end));
        at = end + this.delimiter.length;
      }
      if (b.length - at > this.max) return [...frames, null];
    }
    this.buffered = at === 0 ? b : b.subarray(at);
    return frames;
  }

  /**
   * The frames of one datagram, which must hold whole frames only: `undefined` when it ends inside
   * a frame, `null` in place of a frame longer than the limit.
   * @param {Buffer} datagram
   * @returns {Array<Buffer | null> | undefined}
   */
  datagram(datagram) {
    if (this.framing.type === 'datagram') return [datagram.length > this.max ? null : datagram];
    const frames = this.push(datagram);
    const partial = this.buffered.length > 0 && frames[frames.length - 1] !== null;
    this.buffered = Buffer.alloc(0);
    return partial ? undefined : frames;
  }
}

/**
 * One frame carrying `parts` one after the other, as the framing writes it
 * (one allocation: the prefix or delimiter and the parts copied in place).
 * @param {Framing} framing @param {...Uint8Array} parts
 */
export function frameOf(framing, ...parts) {
  let bodyBytes = 0;
  for (const p of parts) bodyBytes += p.length;
  const delimiter = framing.type === 'delimiter' ? Buffer.from(framing.delimiter ?? '0a', 'hex') : undefined;
  const n = framing.type === 'length-prefixed' ? (framing.lengthBytes ?? 2) : 0;
  const out = Buffer.allocUnsafe(n + bodyBytes + (delimiter?.length ?? 0));
  if (n === 1) out.writeUInt8(bodyBytes, 0);
  else if (n === 2) framing.byteOrder === 'little' ? out.writeUInt16LE(bodyBytes, 0) : out.writeUInt16BE(bodyBytes, 0);
  else if (n === 4) framing.byteOrder === 'little' ? out.writeUInt32LE(bodyBytes, 0) : out.writeUInt32BE(bodyBytes, 0);
  let at = n;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  if (delimiter) out.set(delimiter, at);
  return out;
}
