/**
 * Southbound frames for plugins/framed-tcp: a message toward the device
 * (a command from the API, a script's publish()) is written as one frame —
 * the configured header (the device id as the device sends it, and a
 * sequence number if configured) then the message payload, framed like the
 * device's frames. It is settled once written, or, when `downlink.ack` is
 * configured and the message is QoS ≥ 1, once the device answers with an
 * acknowledgement frame: a frame whose body is exactly `downlink.ack.payload`
 * (matched by the echoed sequence number, else the oldest unacknowledged).
 */
import { frameOf } from './framing.js';

/** Beyond this many unacknowledged messages a connection takes no more until one settles. */
export const MAX_UNACKNOWLEDGED = 256;

/** @param {number} maxLength */
const offsetLength = (maxLength) => ({
  type: 'object',
  additionalProperties: false,
  required: ['offset', 'length'],
  properties: { offset: { type: 'integer', minimum: 0, maximum: 63 }, length: { type: 'integer', minimum: 1, maximum: maxLength } },
});

export const downlinkSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    subscribe: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      default: [],
      description: 'address filters the device subscribes to once identified ({deviceId} is replaced), for publish() and target: devices',
    },
    sequence: { ...offsetLength(4), description: 'a counter written big-endian into the header of each downlink frame' },
    ack: {
      type: 'object',
      additionalProperties: false,
      required: ['payload'],
      properties: {
        payload: { type: 'string', pattern: '^([0-9A-Fa-f]{2})+$', description: 'body of the device acknowledgement frame, in hex' },
        timeoutMs: { type: 'integer', minimum: 10, maximum: 600000, default: 10000 },
      },
    },
  },
};

/**
 * @typedef {{ subscribe: string[], sequence?: { offset: number, length: number }, ack?: { payload: string, timeoutMs: number } }} DownlinkOptions
 * @typedef {import('../../src/plugins/stream-listener.js').StreamDelivery} StreamDelivery
 */

export class Downlink {
  /**
   * @param {import('./framing.js').Framing} framing
   * @param {number} headerBytes
   * @param {{ offset: number, length: number } | undefined} idSpec
   * @param {DownlinkOptions} options
   * @param {(bytes: Uint8Array, onWritten?: () => void) => void} write
   */
  constructor(framing, headerBytes, idSpec, options, write) {
    const seq = options.sequence;
    if (seq && seq.offset + seq.length > headerBytes) throw new Error('downlink.sequence lies outside header.bytes');
    this.framing = framing;
    this.header = Buffer.alloc(headerBytes);
    this.idSpec = idSpec;
    this.seqSpec = seq;
    this.ackBody = options.ack ? Buffer.from(options.ack.payload, 'hex') : undefined;
    this.ackTimeoutMs = options.ack?.timeoutMs ?? 10000;
    this.write = write;
    this.seq = 0;
    /** @type {Map<number, { message: StreamDelivery, timer: NodeJS.Timeout }>} unacknowledged, by sequence number (insertion order = oldest first) */
    this.waiting = new Map();
  }

  /** The device's id bytes, from its first frame. @param {Buffer} idBytes */
  identified(idBytes) {
    if (this.idSpec) idBytes.copy(this.header, this.idSpec.offset);
  }

  /** @param {StreamDelivery} message */
  deliver(message) {
    const needsAck = this.ackBody !== undefined && message.qos > 0;
    if (needsAck && this.waiting.size >= MAX_UNACKNOWLEDGED) return false;
    const seqSpec = this.seqSpec;
    const seq = (this.seq = (this.seq + 1) % 2 ** (8 * (seqSpec?.length ?? 4)) || 1);
    if (seqSpec) this.header.writeUIntBE(seq, seqSpec.offset, seqSpec.length);
    const frame = frameOf(this.framing, this.header, message.payload);
    if (!needsAck) {
      this.write(frame, () => message.settle(true));
      return true;
    }
    const timer = setTimeout(() => {
      this.waiting.delete(seq);
      message.settle(false, `no acknowledgement frame within ${this.ackTimeoutMs} ms`);
    }, this.ackTimeoutMs);
    this.waiting.set(seq, { message, timer });
    this.write(frame);
    return true;
  }

  /**
   * A device frame: true when it was an acknowledgement (it settles a message and is not telemetry).
   * @param {Buffer} header @param {Buffer} body
   */
  acknowledged(header, body) {
    if (!this.ackBody || !body.equals(this.ackBody)) return false;
    const key = this.seqSpec ? header.readUIntBE(this.seqSpec.offset, this.seqSpec.length) : this.waiting.keys().next().value;
    const entry = key === undefined ? undefined : this.waiting.get(key);
    if (entry) {
      this.waiting.delete(/** @type {number} */ (key));
      clearTimeout(entry.timer);
      entry.message.settle(true);
    }
    return true;
  }

  /** The connection closed: the host settles what is still unacknowledged. */
  close() {
    for (const { timer } of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
  }
}
