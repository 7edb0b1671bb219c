/**
 * Inbound QoS 1/2 accounting of one connection: the quota of the Receive
 * Maximum thinggate announced (`limits.maxInflight`; a v5 client exceeding
 * it is disconnected with 0x93 [MQTT-3.3.4-9]) and the open QoS 2 exchanges
 * by packet id [MQTT-4.3.3]. Handlers ask this object; they do not count.
 */

/** QoS 2 inbound exchange states [MQTT-4.3.3]. */
export const QOS2_DISPATCHING = 1;
export const QOS2_RECEIVED = 2;

export class InboundQos {
  /** QoS 1/2 messages not yet completed (PUBACK / PUBCOMP sent, or refused). */
  private open = 0;
  /** QoS 1/2 PUBLISHes parsed but held while reading is paused, counted on arrival. */
  private held = 0;
  private readonly qos2 = new Map<number, number>();

  constructor(private readonly receiveMaximum: number) {}

  /** The QoS 2 exchange state of packet `id` (QOS2_DISPATCHING, QOS2_RECEIVED), if one is open. */
  qos2State(id: number): number | undefined {
    return this.qos2.get(id);
  }

  /** A QoS 1/2 PUBLISH is taken; false when it exceeds the Receive Maximum (checked when `enforce`: v5 only). */
  begin(qos: 1 | 2, id: number, enforce: boolean): boolean {
    if (enforce && this.open >= this.receiveMaximum) return false;
    this.open++;
    if (qos === 2) this.qos2.set(id, QOS2_DISPATCHING);
    return true;
  }

  /** PUBACK sent, or the exchange ended with a failure code: the slot and the packet id are free. */
  complete(qos: 1 | 2, id: number): void {
    this.open--;
    if (qos === 2) this.qos2.delete(id);
  }

  /** PUBREC 0x00 sent: the exchange waits for PUBREL. */
  received(id: number): void {
    this.qos2.set(id, QOS2_RECEIVED);
  }

  /** PUBREL for a received exchange ends it; false when none is waiting for one. */
  release(id: number): boolean {
    if (this.qos2.get(id) !== QOS2_RECEIVED) return false;
    this.qos2.delete(id);
    this.open--;
    return true;
  }

  /** A QoS 1/2 PUBLISH is held unread-in-effect: counted against the quota now; false when it exceeds it. */
  hold(): boolean {
    if (this.open + this.held >= this.receiveMaximum) return false;
    this.held++;
    return true;
  }

  /** A held PUBLISH is dispatched (and counted by {@link begin}). */
  unhold(): void {
    this.held--;
  }
}
