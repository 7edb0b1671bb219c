/**
 * Draining mailboxes: when a device is reachable (it connected, subscribed,
 * or a command arrived for it while connected) its queued commands are
 * handed to the listener holding it, in queue order, through
 * `Listener.deliver`. The session settles each one (DeviceMessage.onSettled):
 * acknowledged → delivered; not delivered by this session → queued again,
 * to be sent on the next occasion (at least once).
 *
 * MQTT devices take a command only on a topic they subscribed to, so a
 * command never arrives before the subscription that says where commands
 * go; other protocols decide in their own `deliver` (AMQP needs a link on
 * the address, CoAP an observation).
 */
import type { CommandRecord, MailboxStore } from '../../state/mailbox.js';
import type { DeviceMessage, DeviceRegistry } from '../registry.js';

/** What delivery needs of a listener (the Listener interface, seen from devices/). */
export interface DeliveryPort {
  readonly protocol: string;
  deliver(clientId: string, message: DeviceMessage): boolean;
}

export interface DeliveryDeps {
  readonly store: MailboxStore;
  readonly devices: DeviceRegistry;
  readonly listener: (name: string) => DeliveryPort | undefined;
  readonly now: () => number;
  /** A command's state changed (events, metrics, waiters). */
  readonly changed: (record: CommandRecord) => void;
}

/** Queued commands read from the store per round. */
const BATCH = 100;

/** The DeviceMessage of a command; the correlation data is the command id. */
export function commandMessage(r: CommandRecord, protocol: string, onSettled: DeviceMessage['onSettled']): DeviceMessage {
  return {
    topic: r.address,
    payload: Buffer.from(r.payload, 'base64'),
    qos: r.qos,
    retain: false,
    ...(r.contentType !== undefined && { contentType: r.contentType }),
    headers: { 'command-id': r.id },
    // MQTT carries Correlation Data as bytes (DeviceMessage holds them in base64url); AMQP and the others carry the id as a string.
    correlationId: protocol === 'mqtt' || protocol === 'mqtt-ws' ? Buffer.from(r.id, 'utf8').toString('base64url') : r.id,
    ...(r.replyTo !== undefined && { replyTo: r.replyTo }),
    expiresAt: r.expiresAt,
    ...(onSettled && { onSettled }),
  };
}

export class MailboxDelivery {
  /** Commands handed to a session and not yet settled. */
  private readonly inflight = new Set<string>();
  private readonly draining = new Set<string>();
  private readonly again = new Set<string>();

  constructor(private readonly deps: DeliveryDeps) {}

  /** Delivers what the device's mailbox holds, if it is connected; a drain already running goes round again. */
  kick(clientId: string): void {
    if (this.draining.has(clientId)) {
      this.again.add(clientId);
      return;
    }
    this.draining.add(clientId);
    void this.drain(clientId);
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  private async drain(clientId: string): Promise<void> {
    do {
      this.again.delete(clientId);
      const full = await this.round(clientId).catch(() => false);
      if (full) this.again.add(clientId);
    } while (this.again.has(clientId));
    // In the same turn as the last check, so a kick arriving now starts a new drain instead of being lost.
    this.draining.delete(clientId);
  }

  /** One round; true when it filled a whole batch (there may be more). */
  private async round(clientId: string): Promise<boolean> {
    const { devices, store } = this.deps;
    const session = devices.lookup(clientId);
    if (!session) return false;
    const port = this.deps.listener(session.listener);
    if (!port) return false;
    const batch = await store.queued(clientId, BATCH);
    let handed = 0;
    for (const r of batch) {
      if (this.inflight.has(r.id)) continue;
      if (r.expiresAt <= this.deps.now()) continue; // the sweep expires it
      // Order per device: a command the session cannot take yet holds back the ones after it.
      if (devices.lookup(clientId) !== session) return false;
      if ((port.protocol === 'mqtt' || port.protocol === 'mqtt-ws') && !devices.wants(clientId, r.address)) return false;
      if (!this.handOver(clientId, port, r)) return false;
      handed++;
    }
    return batch.length === BATCH && handed > 0;
  }

  private handOver(clientId: string, port: DeliveryPort, r: CommandRecord): boolean {
    const { store, now, changed } = this.deps;
    this.inflight.add(r.id);
    // Store operations run in call order, so this transition is written before any settlement's.
    void store.transition(r.id, 'sent', { at: now() }).then((rec) => rec && changed(rec));
    let settled = false;
    const settle = (delivered: boolean, reason?: string): void => {
      if (settled) return;
      settled = true;
      this.inflight.delete(r.id);
      const next = delivered ? 'delivered' : 'queued';
      const options = delivered ? { at: now() } : { at: now(), reason: reason ?? 'not delivered' };
      void store.transition(r.id, next, options).then((rec) => rec && changed(rec));
    };
    const taken = port.deliver(clientId, commandMessage(r, port.protocol, settle));
    if (!taken) settle(false, 'the device session could not take it now');
    return taken;
  }
}
