/**
 * Southbound delivery of one session: PUBLISH toward the device at the
 * granted QoS. This object owns the outbound in-flight state (packet id →
 * message), packet-id allocation, the client's Receive Maximum (MQTT 5.0
 * §4.9: at most that many unacknowledged QoS 1/2 PUBLISHes [MQTT-3.3.4-9];
 * the rest wait in a bounded queue) and the client's Maximum Packet Size
 * (larger messages are not sent [MQTT-3.1.2-25]).
 *
 * Messages that arrive before CONNACK wait until {@link Outbound.start}. A
 * persistent session hands its unacknowledged and queued messages to the
 * session store when the connection ends ({@link Outbound.end}) and gets
 * them back on resume ({@link Outbound.restore}): in-flight ones are resent
 * with DUP=1, or PUBREL when PUBREC was already received [MQTT-4.4.0-1].
 *
 * Every message with `onSettled` is settled exactly once: true on PUBACK,
 * PUBCOMP or (QoS 0) once written; false with a reason when dropped.
 *
 * Each message taken gets a number, increasing in the order it is owed; a
 * persistent session's {@link OutboundJournal} is told of every QoS 1/2
 * message owed, changed (sent, released) or no longer owed, by number, so
 * that the session store holds them while the connection lives.
 */
import type { IPublishPacket } from 'mqtt-packet';
import type { DeviceMessage, QoS } from '../../devices/registry.js';
import type { PendingMessage } from '../../state/sessions.js';
import type { MqttMetrics } from './metrics.js';
import type { PacketWriter } from './writer.js';
import { RC } from './reason-codes.js';

/** What the outbound side needs of its connection. */
export interface OutboundLink {
  readonly version: number;
  readonly wire: PacketWriter;
  readonly shared: { readonly metrics: MqttMetrics };
}

type Entry = PendingMessage<DeviceMessage>;
/** A message taken, with its number. */
type Owed = Entry & { readonly n: number };

/** Told of the QoS 1/2 messages owed to the device (journal.ts). */
export interface OutboundJournal {
  put(n: number, entry: Entry): void;
  del(n: number): void;
}

/** Calls a message's settlement hook, at most once per call site by construction. */
export function settle(message: DeviceMessage, delivered: boolean, reason?: string): void {
  message.onSettled?.(delivered, reason);
}

export class Outbound {
  /** Packet id → message, for sent and unacknowledged QoS 1/2 PUBLISHes (insertion order = send order). */
  private readonly inflight = new Map<number, Owed>();
  private queue: Owed[] = [];
  /** The last number given to a message taken. */
  private seq = 0;
  /** Set while a persistent session is written through. */
  journal: OutboundJournal | undefined;
  private nextId = 1;
  private receiveMaximum = 65535;
  private online = false;
  private ended = false;

  constructor(
    private readonly link: OutboundLink,
    private readonly maxQueue: number,
  ) {}

  /** Number of unacknowledged outbound QoS 1/2 messages. */
  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Messages waiting to be sent. */
  get queuedCount(): number {
    return this.queue.length;
  }

  /** The client's Receive Maximum from CONNECT (MQTT 5.0 §3.1.2.11.3). */
  setReceiveMaximum(n: number): void {
    this.receiveMaximum = n;
  }

  /**
   * Takes a message for the device. False when it is not taken (ended,
   * expired, queue full, or a QoS 0 message that cannot be written now):
   * then `onSettled` is left to the caller.
   */
  deliver(message: DeviceMessage, qos: QoS, subscriptionIds: readonly number[] | undefined): boolean {
    if (this.ended || expired(message)) return false;
    const entry: Owed = { message, qos, bytes: message.payload.length, ...(subscriptionIds && { subscriptionIds }), n: ++this.seq };
    if (!this.online || this.queue.length > 0 || (qos > 0 && this.inflight.size >= this.receiveMaximum)) {
      if (this.queue.length >= this.maxQueue) {
        this.link.shared.metrics.dropped('queue-full');
        return false;
      }
      this.queue.push(entry);
      if (qos > 0) this.journal?.put(entry.n, entry);
      return true;
    }
    return this.send(entry, false);
  }

  /** CONNACK is out: resend what was in flight (DUP), then send what waited. */
  start(): void {
    if (this.ended) return;
    this.online = true;
    for (const [id, e] of this.inflight) {
      if (e.released) this.link.wire.simpleAck('pubrel', id);
      else if (expired(e.message)) {
        this.forget(id, e);
        this.drop(e.message, 'expired');
      } else if (!this.publish(e, id, true)) {
        this.forget(id, e);
        this.drop(e.message, 'too-large-for-client');
      }
    }
    this.pump();
  }

  /** A resumed session's messages, ahead of anything queued since (before {@link start}); numbered again in that order. */
  restore(pending: readonly Entry[]): void {
    const since = this.queue;
    this.seq = 0;
    const waiting: Owed[] = [];
    for (const e of pending) {
      if (e.packetId !== undefined && e.qos > 0 && !this.inflight.has(e.packetId)) {
        this.inflight.set(e.packetId, { ...e, n: ++this.seq });
        this.nextId = e.packetId === 65535 ? 1 : e.packetId + 1;
      } else waiting.push({ message: e.message, qos: e.qos, bytes: e.bytes, ...(e.subscriptionIds && { subscriptionIds: e.subscriptionIds }), n: ++this.seq });
    }
    this.queue = [...waiting, ...since.map((e) => ({ ...e, n: ++this.seq }))];
  }

  /** The QoS 1/2 messages owed now, in order, with their numbers (for a journal that starts). */
  owed(): Array<readonly [number, Entry]> {
    return [...this.inflight.values(), ...this.queue].filter((e) => e.qos > 0).map((e) => [e.n, e] as const);
  }

  /** PUBACK from the client for an outbound QoS 1 PUBLISH. */
  onPuback(id: number): void {
    const e = this.inflight.get(id);
    if (e === undefined || e.qos !== 1) return; // a stray PUBACK is ignored
    this.forget(id, e);
    settle(e.message, true);
    this.pump();
  }

  /**
   * PUBREC from the client: release with PUBREL, or end the exchange on a
   * failure code. Only a PUBREC below 0x80 is answered with PUBREL
   * [MQTT-4.3.3-4], for an unknown packet id too (then with 0x92).
   */
  onPubrec(id: number, reasonCode: number): void {
    const e = this.inflight.get(id);
    if (reasonCode >= 0x80) {
      if (e !== undefined && e.qos === 2) {
        this.forget(id, e);
        settle(e.message, false, `PUBREC 0x${reasonCode.toString(16)}`);
        this.pump();
      }
      return;
    }
    if (e === undefined || e.qos !== 2) {
      this.link.wire.ack('pubrel', id, RC.PACKET_IDENTIFIER_NOT_FOUND);
      return;
    }
    const released = { ...e, released: true };
    this.inflight.set(id, released);
    this.journal?.put(e.n, released);
    this.link.wire.simpleAck('pubrel', id);
  }

  onPubcomp(id: number): void {
    const e = this.inflight.get(id);
    if (e?.released !== true) return;
    this.forget(id, e);
    settle(e.message, true);
    this.pump();
  }

  /**
   * The connection ended. A persistent session's messages are returned for
   * the session store, still unsettled; otherwise each is settled false.
   */
  end(persistent: boolean): Entry[] | undefined {
    this.online = false;
    this.ended = true;
    this.journal = undefined;
    const pending: Entry[] = [...this.inflight.values(), ...this.queue].map(({ n: _n, ...e }) => e);
    this.inflight.clear();
    this.queue = [];
    if (persistent) return pending;
    for (const e of pending) settle(e.message, false, 'session ended');
    return undefined;
  }

  private pump(): void {
    while (this.online && this.queue.length > 0) {
      const e = this.queue[0]!;
      if (e.qos > 0 && this.inflight.size >= this.receiveMaximum) return;
      this.queue.shift();
      if (!expired(e.message)) this.send(e, true);
      else {
        if (e.qos > 0) this.journal?.del(e.n);
        this.drop(e.message, 'expired');
      }
    }
  }

  /** Sends now; on failure the message is dropped, and settled false when it had been `taken` earlier. */
  private send(e: Owed, taken: boolean): boolean {
    let id = 0;
    let problem: string | undefined;
    // QoS 0 to a backed-up socket is dropped rather than buffered without bound.
    if (e.qos === 0 && this.link.wire.backedUp) problem = 'socket-backed-up';
    else if (e.qos > 0 && (id = this.allocateId()) === 0) problem = 'no-packet-id';
    else if (!this.publish(e, id, false)) problem = 'too-large-for-client';
    if (problem !== undefined) {
      this.link.shared.metrics.dropped(problem);
      if (taken) {
        if (e.qos > 0) this.journal?.del(e.n);
        settle(e.message, false, problem);
      }
      return false;
    }
    if (e.qos === 0) settle(e.message, true);
    else {
      const sent = { ...e, packetId: id };
      this.inflight.set(id, sent);
      this.journal?.put(e.n, sent);
    }
    return true;
  }

  /** An in-flight message is no longer owed. */
  private forget(id: number, e: Owed): void {
    this.inflight.delete(id);
    this.journal?.del(e.n);
  }

  private drop(message: DeviceMessage, reason: string): void {
    this.link.shared.metrics.dropped(reason);
    settle(message, false, reason);
  }

  private allocateId(): number {
    for (let tries = 0; tries < 65535; tries++) {
      const id = this.nextId;
      this.nextId = id === 65535 ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
    return 0;
  }

  /** Writes the PUBLISH; false when the client cannot take it. */
  private publish(e: Entry, messageId: number, dup: boolean): boolean {
    const { message, qos } = e;
    const packet: IPublishPacket = { cmd: 'publish', topic: message.topic, payload: message.payload, qos, retain: message.retain, dup };
    if (qos > 0) packet.messageId = messageId;
    if (this.link.version === 5) {
      const properties = v5Properties(message, e.subscriptionIds);
      if (properties) packet.properties = properties;
    }
    // False when larger than the client's Maximum Packet Size, or not encodable: discarded [MQTT-3.1.2-25].
    return this.link.wire.send(packet);
  }
}

function expired(message: DeviceMessage): boolean {
  return message.expiresAt !== undefined && message.expiresAt <= Date.now();
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
