/**
 * Southbound AMQP: a device's receiver links. Each link's source address is
 * subscribed in the DeviceRegistry as a topic, so `target: devices` routes,
 * script `publish()` and Listener.deliver reach the device; the same links
 * carry replies to a message's reply-to. The AMQP client id is the
 * container-id from the open frame (AMQP 1.0 §2.7.1). Several connections
 * may share one container-id (a container opens many), so one
 * AmqpDeviceClient stands for all of them.
 */
import rhea from 'rhea';
import type { DeviceMessage, DeviceRegistry, QoS, Subscriber } from '../../devices/registry.js';
import { compileFilter, filterProblem, matchesCompiled, type CompiledFilter } from '../../envelope/address-pattern.js';
import { deviceMessage, type OutgoingAmqpMessage } from './message-mapping.js';
import type { RheaOutgoingDelivery, RheaSender } from './rhea-types.js';

const dataSection = (b: Buffer): unknown => rhea.message.data_section(b);

interface SenderEntry {
  readonly address: string;
  readonly levels: CompiledFilter;
  readonly subscribed: boolean;
}

/** Deliveries a sender has queued in rhea but not yet written (rhea writes on the next tick). */
function unsent(sender: RheaSender): number {
  const out = sender.session.outgoing;
  let n = 0;
  for (let id = out.next_pending_delivery; id < out.next_delivery_id; id++) if (out.deliveries.by_id(id)?.link === sender) n++;
  return n;
}

/** True when `sender` may take one more message now: credit not already spoken for. No message is ever queued beyond credit. */
export function hasCapacity(sender: RheaSender): boolean {
  return sender.is_open() && sender.sendable() && sender.credit - unsent(sender) > 0;
}

/** Sends one message; pre-settled (at most once) when `settled`. */
export function sendOn(sender: RheaSender, message: OutgoingAmqpMessage, settled: boolean): RheaOutgoingDelivery {
  const d = sender.send(message);
  // rhea writes the transfer on the next tick, reading `settled` then.
  if (settled) d.settled = true;
  return d;
}

type Settle = NonNullable<DeviceMessage['onSettled']>;

export class AmqpDeviceClient implements Subscriber {
  private readonly senders = new Map<RheaSender, SenderEntry>();
  private readonly subscriptions = new Map<string, number>();
  /** Unsettled deliveries whose message wants to know its outcome (DeviceMessage.onSettled), by link. */
  private readonly unsettled = new Map<RheaSender, Map<RheaOutgoingDelivery, Settle>>();
  connections = 0;

  constructor(
    readonly clientId: string,
    readonly listener: string,
    private readonly devices: DeviceRegistry,
    private readonly onSent: (result: string) => void,
    /** The principal of the connections sharing this container-id (admission refuses any other). */
    readonly principal: string | undefined,
  ) {}

  /** Registers a device receiver link (our sender) under its source address. */
  addSender(sender: RheaSender, address: string): void {
    const subscribed = filterProblem(address) === undefined;
    this.senders.set(sender, { address, levels: compileFilter(address), subscribed });
    if (!subscribed) return;
    const n = this.subscriptions.get(address) ?? 0;
    this.subscriptions.set(address, n + 1);
    if (n === 0) {
      const qos: QoS = sender.local.attach.snd_settle_mode === 1 ? 0 : 1;
      this.devices.subscribe(this, address, { qos });
    }
  }

  removeSender(sender: RheaSender): void {
    const e = this.senders.get(sender);
    if (!e) return;
    this.senders.delete(sender);
    const waiting = this.unsettled.get(sender);
    this.unsettled.delete(sender);
    for (const settle of waiting?.values() ?? []) settle(false, 'the link closed before the device settled the delivery');
    if (!e.subscribed) return;
    const n = (this.subscriptions.get(e.address) ?? 1) - 1;
    if (n > 0) this.subscriptions.set(e.address, n);
    else {
      this.subscriptions.delete(e.address);
      this.devices.unsubscribe(this, e.address);
    }
  }

  /** A link whose source address is exactly `address` and that has credit, for a reply. */
  replyLink(address: string): RheaSender | undefined {
    let attached: RheaSender | undefined;
    for (const [s, e] of this.senders) {
      if (e.address !== address) continue;
      if (hasCapacity(s)) return s;
      attached = s;
    }
    return attached;
  }

  /** Subscriber: sends on the first matching link with credit. */
  deliver(message: DeviceMessage, qos: QoS): boolean {
    let matched = false;
    for (const [s, e] of this.senders) {
      if (!(e.address === message.topic || (e.subscribed && matchesCompiled(e.levels, message.topic)))) continue;
      matched = true;
      if (!hasCapacity(s)) continue;
      const presettled = qos === 0 || s.local.attach.snd_settle_mode === 1;
      const d = sendOn(s, deviceMessage(message, Date.now(), dataSection), presettled);
      if (presettled)
        message.onSettled?.(true); // at most once: sending is all there is
      else if (message.onSettled) {
        let m = this.unsettled.get(s);
        if (!m) this.unsettled.set(s, (m = new Map()));
        m.set(d, message.onSettled);
      }
      this.onSent('sent');
      return true;
    }
    this.onSent(matched ? 'no-credit' : 'no-link');
    return false;
  }

  /**
   * The device settled a delivery we sent: `accepted` is delivered (AMQP 1.0
   * §3.4.2); rejected, released or modified are not (§3.4.3-3.4.5).
   */
  settled(sender: RheaSender | undefined, delivery: RheaOutgoingDelivery | undefined, outcome: string): void {
    if (!sender || !delivery) return;
    const m = this.unsettled.get(sender);
    const settle = m?.get(delivery);
    if (!settle) return;
    m!.delete(delivery);
    settle(outcome === 'accepted', outcome === 'accepted' ? undefined : `the device ${outcome} it`);
  }

  get empty(): boolean {
    return this.connections === 0;
  }

  /** Forgets every link (the last connection of this client closed). */
  clear(): void {
    for (const s of [...this.senders.keys()]) this.removeSender(s);
  }
}

/** The AmqpDeviceClients of one listener by client id, registered in the DeviceRegistry while connected. */
export class AmqpDeviceClients {
  private readonly byId = new Map<string, AmqpDeviceClient>();

  constructor(
    private readonly listener: string,
    private readonly devices: DeviceRegistry,
    private readonly onSent: (result: string) => void,
  ) {}

  acquire(clientId: string, principal: string | undefined): AmqpDeviceClient {
    let c = this.byId.get(clientId);
    if (!c) {
      c = new AmqpDeviceClient(clientId, this.listener, this.devices, this.onSent, principal);
      this.byId.set(clientId, c);
      this.devices.connect(c);
    }
    c.connections++;
    return c;
  }

  release(client: AmqpDeviceClient): void {
    client.connections--;
    if (!client.empty) return;
    client.clear();
    this.devices.disconnect(client);
    this.byId.delete(client.clientId);
  }

  get(clientId: string): AmqpDeviceClient | undefined {
    return this.byId.get(clientId);
  }
}
