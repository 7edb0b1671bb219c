/**
 * The write side of one connection: packet encoding (guarded — mqtt-packet
 * throws on packets it cannot encode), the client's Maximum Packet Size,
 * four-byte acknowledgements without the encoder, and write batching: the
 * socket stays corked until the listener's flush at the end of the
 * event-loop turn, so all acknowledgements of one turn leave in one write.
 * Acknowledgements are not even separate writes: they are appended to one
 * buffer, handed to the socket at the flush or before any other packet (so
 * the order on the wire is the order of the calls).
 */
import type { Duplex } from 'node:stream';
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { Logger } from 'pino';
import type { MqttMetrics } from './metrics.js';

export type AckType = 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';

/** Room for 64 four-byte acknowledgements; grows when a turn has more. */
const ACK_BUFFER_BYTES = 256;

const ACK_FIRST_BYTE: Readonly<Record<AckType, number>> = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 };

export class PacketWriter {
  /** 4 (3.1.1) or 5; set from CONNECT. */
  version = 4;
  /** The client's v5 Maximum Packet Size; larger packets are not sent [MQTT-3.1.2-24]. */
  maxPacketBytes = Number.POSITIVE_INFINITY;
  /** v5 Request Problem Information; when false, acks carry no Reason String [MQTT-3.1.2-29]. */
  problemInformation = true;
  private options: { protocolVersion: number } = { protocolVersion: 4 };
  private corked = false;
  /** Acknowledgements of this turn not yet handed to the socket. */
  private acks: Buffer = Buffer.allocUnsafe(ACK_BUFFER_BYTES);
  private ackBytes = 0;

  constructor(
    private readonly socket: Duplex,
    private readonly metrics: MqttMetrics,
    private readonly scheduleFlush: (writer: PacketWriter) => void,
    private readonly log: () => Logger,
  ) {}

  setVersion(version: number): void {
    this.version = version === 5 ? 5 : 4;
    this.options = { protocolVersion: this.version };
  }

  /** True when the socket's write buffer is above its high-water mark. */
  get backedUp(): boolean {
    return this.socket.writableNeedDrain;
  }

  /** Writes raw bytes (corked until the end of this event-loop turn). */
  write(buf: Buffer): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.corkForTurn();
    this.flushAcks();
    this.socket.write(buf);
  }

  /** Called by the listener's flush. */
  uncork(): void {
    this.corked = false;
    if (this.socket.destroyed) return;
    this.flushAcks();
    this.socket.uncork();
  }

  /** Hands buffered acknowledgements to the socket (before it is ended, or before another packet). */
  flushAcks(): void {
    if (this.ackBytes === 0) return;
    const out = this.acks.subarray(0, this.ackBytes);
    // The socket keeps `out` until it is written; the next acknowledgements go to a new buffer.
    this.acks = Buffer.allocUnsafe(Math.max(ACK_BUFFER_BYTES, this.ackBytes));
    this.ackBytes = 0;
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(out);
  }

  private corkForTurn(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    this.scheduleFlush(this);
  }

  /**
   * Encodes and writes a packet. Returns false when it cannot be encoded or
   * is larger than the client's Maximum Packet Size (it is then not sent).
   */
  send(packet: Packet): boolean {
    let buf: Buffer;
    try {
      buf = mqttPacket.generate(packet, this.options);
    } catch (err) {
      this.log().warn({ err: (err as Error).message, cmd: packet.cmd }, 'cannot encode packet');
      return false;
    }
    if (buf.length > this.maxPacketBytes) return false;
    this.write(buf);
    this.metrics.tx(packet.cmd);
    return true;
  }

  /** True when `packet` can be encoded within the client's Maximum Packet Size. */
  fits(packet: Packet): boolean {
    try {
      return mqttPacket.generate(packet, this.options).length <= this.maxPacketBytes;
    } catch {
      return false;
    }
  }

  /** PUBACK/PUBREC/PUBREL/PUBCOMP with success and no properties: four bytes, no encoder. */
  simpleAck(cmd: AckType, messageId: number): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.corkForTurn();
    let buf = this.acks;
    const at = this.ackBytes;
    if (at + 4 > buf.length) {
      const bigger = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(bigger, 0, 0, at);
      this.acks = buf = bigger;
    }
    buf[at] = ACK_FIRST_BYTE[cmd];
    buf[at + 1] = 2;
    buf[at + 2] = messageId >> 8;
    buf[at + 3] = messageId & 0xff;
    this.ackBytes = at + 4;
    this.metrics.tx(cmd);
  }

  /**
   * An acknowledgement with a v5 reason code and, when the client allows it,
   * a Reason String. If that would exceed the client's Maximum Packet Size the
   * Reason String is left out [MQTT-3.2.2-19].
   */
  ack(cmd: AckType, messageId: number, reasonCode: number, reason?: string): void {
    if (this.version !== 5 || (reasonCode === 0 && reason === undefined)) {
      this.simpleAck(cmd, messageId);
      return;
    }
    if (reason !== undefined && this.problemInformation && this.send({ cmd, messageId, reasonCode, properties: { reasonString: reason } })) return;
    this.send({ cmd, messageId, reasonCode });
  }
}
