/**
 * Southbound delivery on one connection: PUBLISH toward the device at the
 * granted QoS, with this connection's own packet-id allocation, the client's
 * Receive Maximum (MQTT 5.0 §4.9: at most that many unacknowledged QoS 1/2
 * PUBLISHes [MQTT-3.3.4-9]; the rest wait in a bounded queue) and its
 * Maximum Packet Size (larger messages are not sent [MQTT-3.1.2-24]).
 */
import type { IPublishPacket } from 'mqtt-packet';
import type { DeviceMessage, QoS } from '../../devices/registry.js';
import type { MqttSession } from './session.js';
import { RC } from './reason-codes.js';

/** Outbound QoS 2 states: waiting for PUBREC, then for PUBCOMP. */
const AWAIT_ACK = 1;
const AWAIT_COMP = 2;

interface Queued {
  readonly message: DeviceMessage;
  readonly qos: 1 | 2;
  readonly subscriptionIds: readonly number[] | undefined;
}

export class Outbound {
  /** Packet id → state, for unacknowledged QoS 1/2 PUBLISHes. */
  private readonly inflight = new Map<number, number>();
  /** Packet id → the message's onSettled, for unacknowledged QoS 1/2 PUBLISHes that have one. */
  private readonly settlers = new Map<number, NonNullable<DeviceMessage['onSettled']>>();
  private readonly queue: Queued[] = [];
  private nextId = 1;

  constructor(
    private readonly conn: MqttSession,
    private readonly maxQueue: number,
  ) {}

  /** Number of unacknowledged outbound QoS 1/2 messages. */
  get inflightCount(): number {
    return this.inflight.size;
  }

  deliver(message: DeviceMessage, qos: QoS, subscriptionIds: readonly number[] | undefined): boolean {
    if (message.expiresAt !== undefined && message.expiresAt <= Date.now()) return false;
    if (qos === 0) {
      // QoS 0 to a backed-up socket is dropped rather than buffered without bound.
      if (this.conn.wire.backedUp) {
        this.conn.shared.metrics.dropped('socket-backed-up');
        return false;
      }
      const sent = this.sendPublish(message, 0, 0, subscriptionIds);
      if (sent) message.onSettled?.(true); // QoS 0: written to the socket is all the acknowledgement there is
      return sent;
    }
    if (this.inflight.size < this.conn.clientReceiveMaximum && this.queue.length === 0) {
      return this.sendQueued(message, qos, subscriptionIds);
    }
    if (this.queue.length >= this.maxQueue) {
      this.conn.shared.metrics.dropped('queue-full');
      return false;
    }
    this.queue.push({ message, qos, subscriptionIds });
    return true;
  }

  /** PUBACK from the client for an outbound QoS 1 PUBLISH. */
  onPuback(id: number): void {
    if (this.inflight.get(id) !== AWAIT_ACK) return; // a stray PUBACK is ignored
    this.inflight.delete(id);
    this.settle(id, true);
    this.pump();
  }

  /**
   * PUBREC from the client: release with PUBREL, or end the exchange on a
   * failure code. Only a PUBREC below 0x80 is answered with PUBREL
   * [MQTT-4.3.3-4], for an unknown packet id too (then with 0x92).
   */
  onPubrec(id: number, reasonCode: number): void {
    const state = this.inflight.get(id);
    if (reasonCode >= 0x80) {
      if (state !== undefined) {
        this.inflight.delete(id);
        this.settle(id, false, `PUBREC reason code 0x${reasonCode.toString(16)}`);
        this.pump();
      }
      return;
    }
    if (state === undefined) {
      this.conn.wire.ack('pubrel', id, RC.PACKET_IDENTIFIER_NOT_FOUND);
      return;
    }
    this.inflight.set(id, AWAIT_COMP);
    this.conn.wire.simpleAck('pubrel', id);
  }

  onPubcomp(id: number): void {
    if (this.inflight.get(id) !== AWAIT_COMP) return;
    this.inflight.delete(id);
    this.settle(id, true);
    this.pump();
  }

  /** Forgets everything (the session ends with the connection). */
  clear(): void {
    this.inflight.clear();
    for (const id of [...this.settlers.keys()]) this.settle(id, false, 'the session ended before the device acknowledged it');
    for (const q of this.queue) q.message.onSettled?.(false, 'the session ended before it was sent');
    this.queue.length = 0;
  }

  private settle(id: number, delivered: boolean, reason?: string): void {
    const fn = this.settlers.get(id);
    if (!fn) return;
    this.settlers.delete(id);
    fn(delivered, reason);
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inflight.size < this.conn.clientReceiveMaximum) {
      const q = this.queue.shift()!;
      if (q.message.expiresAt !== undefined && q.message.expiresAt <= Date.now()) {
        q.message.onSettled?.(false, 'expired');
        continue;
      }
      if (!this.sendQueued(q.message, q.qos, q.subscriptionIds)) q.message.onSettled?.(false, 'not sent');
    }
  }

  private sendQueued(message: DeviceMessage, qos: 1 | 2, subscriptionIds: readonly number[] | undefined): boolean {
    const id = this.allocateId();
    if (id === 0) return false;
    if (!this.sendPublish(message, qos, id, subscriptionIds)) return false;
    this.inflight.set(id, AWAIT_ACK);
    if (message.onSettled) this.settlers.set(id, message.onSettled);
    return true;
  }

  private allocateId(): number {
    for (let tries = 0; tries < 65535; tries++) {
      const id = this.nextId;
      this.nextId = id === 65535 ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
    return 0;
  }

  private sendPublish(message: DeviceMessage, qos: QoS, messageId: number, subscriptionIds: readonly number[] | undefined): boolean {
    const packet: IPublishPacket = { cmd: 'publish', topic: message.topic, payload: message.payload, qos, retain: false, dup: false };
    if (qos > 0) packet.messageId = messageId;
    if (this.conn.version === 5) {
      const properties = v5Properties(message, subscriptionIds);
      if (properties) packet.properties = properties;
    }
    if (!this.conn.wire.send(packet)) {
      // Larger than the client's Maximum Packet Size, or not encodable: discarded [MQTT-3.1.2-25].
      this.conn.shared.metrics.dropped('too-large-for-client');
      return false;
    }
    return true;
  }
}

type PublishProperties = NonNullable<IPublishPacket['properties']>;

/** The MQTT 5 PUBLISH properties of a device message, or undefined when it has none. */
function v5Properties(message: DeviceMessage, subscriptionIds: readonly number[] | undefined): PublishProperties | undefined {
  const props: PublishProperties = {};
  let some = false;
  // [MQTT-3.3.2-4]: the Payload Format Indicator reaches every subscriber unaltered.
  if (message.payloadUtf8 === true) {
    props.payloadFormatIndicator = true;
    some = true;
  }
  if (message.contentType !== undefined) {
    props.contentType = message.contentType;
    some = true;
  }
  if (message.replyTo !== undefined) {
    props.responseTopic = message.replyTo;
    some = true;
  }
  if (message.correlationId !== undefined) {
    props.correlationData = Buffer.from(message.correlationId, 'base64url');
    some = true;
  }
  if (message.headers !== undefined && Object.keys(message.headers).length > 0) {
    props.userProperties = { ...message.headers };
    some = true;
  }
  if (message.expiresAt !== undefined) {
    // [MQTT-3.3.2-6]: the interval sent is what remains.
    props.messageExpiryInterval = Math.max(1, Math.ceil((message.expiresAt - Date.now()) / 1000));
    some = true;
  }
  if (subscriptionIds !== undefined && subscriptionIds.length > 0) {
    props.subscriptionIdentifier = subscriptionIds.length === 1 ? subscriptionIds[0]! : [...subscriptionIds];
    some = true;
  }
  return some ? props : undefined;
}
