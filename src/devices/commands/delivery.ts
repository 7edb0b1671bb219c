/**
 * Draining mailboxes: when a device is reachable (it connected, subscribed,
 * or a command arrived for it while connected) its queued commands are
 * handed to the listener holding it, in queue order, through
 * `Listener.deliver`. The session settles each one (DeviceMessage.onSettled):
 * acknowledged → delivered; not delivered by this session → queued again,
 * to be sent on the next occasion (at least once).
 *
 * Before a command is handed to anything, delivery claims it: the store's
 * queued → sent compare-and-set, naming this node. Only the claim's winner
 * sends; a node that loses it (another node claimed it from the shared
 * mailbox in the same moment, or it was cancelled) skips the command. So
 * each delivery attempt is made by exactly one node.
 *
 * MQTT devices take a command only on a topic they subscribed to, so a
 * command never arrives before the subscription that says where commands
 * go; other protocols decide in their own `deliver` (AMQP needs a link on
 * the address, CoAP an observation).
 *
 * A device connected to another node (nodes sharing state) gets its
 * commands through that node (devices/cluster.ts): the command crosses the
 * bus, and the session's settlement comes back the same way, so the
 * record here becomes delivered, or queued again. The other node applies
 * the same rules to its session ({@link commandForSession}).
 */
import type { CommandRecord, MailboxStore } from '../../state/mailbox.js';
import type { DeviceMessage, DeviceRegistry } from '../registry.js';

/** What delivery needs of a listener (the Listener interface, seen from devices/). */
export interface DeliveryPort {
  readonly protocol: string;
  deliver(clientId: string, message: DeviceMessage): boolean;
}

/** Devices held by other nodes, when nodes share state (cluster/node.ts). */
export interface RemoteDevices {
  /** This node's id (recorded as the sender of what it claims). */
  readonly id?: string;
  /** The node holding `clientId` (this one or another), or undefined when none does. */
  holder(clientId: string): Promise<string | undefined>;
  /** 'absent' leaves the message with the caller; otherwise its onSettled is called exactly once. */
  deliver(clientId: string, message: DeviceMessage): Promise<'local' | 'remote' | 'absent'>;
  /** Live nodes (their heartbeat within the TTL), this one included. */
  nodes?(): Promise<ReadonlyArray<{ readonly id: string }>>;
  /** Tells `node` that command `id` it queued became final here; resolves to false when no such node listens. */
  notifyFinal?(node: string, id: string): Promise<boolean>;
  /** Registers what to do when another node made final a command this node queued. */
  onFinal?(handler: (id: string) => void): void;
  /** Asks `node`, holding the device's session, to drain its mailbox (shared by the nodes); false when no such node listens. */
  drainOn?(node: string, clientId: string): Promise<boolean>;
  /** Registers what to do when another node asks this one to drain a device's mailbox. */
  onDrain?(handler: (clientId: string) => void): void;
}

export interface DeliveryDeps {
  readonly store: MailboxStore;
  readonly devices: DeviceRegistry;
  readonly listener: (name: string) => DeliveryPort | undefined;
  readonly now: () => number;
  /** A command's state changed (events, metrics, waiters). */
  readonly changed: (record: CommandRecord) => void;
  /** Other nodes' devices; without it a command waits for its device to connect here. */
  readonly remote?: RemoteDevices | undefined;
  /** A mailbox read or write failed (a shared store that does not answer, a closed one). */
  readonly failed: (err: unknown, what: { readonly operation: string; readonly clientId: string; readonly commandId?: string }) => void;
}

const isMqtt = (protocol: string): boolean => protocol === 'mqtt' || protocol === 'mqtt-ws';

/** Queued commands read from the store per round. */
const BATCH = 100;

/**
 * The DeviceMessage of a command; the correlation data is the command id.
 * `protocol` undefined: for another node, which adapts it to its session's
 * protocol ({@link commandForSession}).
 */
export function commandMessage(r: CommandRecord, protocol: string | undefined, onSettled: DeviceMessage['onSettled']): DeviceMessage {
  const m: DeviceMessage = {
    topic: r.address,
    payload: Buffer.from(r.payload, 'base64'),
    qos: r.qos,
    retain: false,
    ...(r.contentType !== undefined && { contentType: r.contentType }),
    headers: { 'command-id': r.id },
    correlationId: r.id,
    ...(r.replyTo !== undefined && { replyTo: r.replyTo }),
    expiresAt: r.expiresAt,
    ...(onSettled && { onSettled }),
  };
  return protocol === undefined ? m : withCorrelation(m, protocol);
}

/** MQTT carries Correlation Data as bytes (DeviceMessage holds them in base64url); AMQP and the others carry the id as a string. */
function withCorrelation(m: DeviceMessage, protocol: string): DeviceMessage {
  const id = m.headers?.['command-id'];
  if (id === undefined || m.correlationId !== id || !isMqtt(protocol)) return m;
  return { ...m, correlationId: Buffer.from(id, 'utf8').toString('base64url') };
}

/**
 * A message another node asks this one to deliver to a session on `protocol`:
 * a command is adapted as {@link commandMessage} would have made it here, and
 * refused (undefined) where a local one would wait: an MQTT session without
 * a subscription matching its address. Anything else passes unchanged.
 */
export function commandForSession(m: DeviceMessage, protocol: string, devices: DeviceRegistry, clientId: string): DeviceMessage | undefined {
  if (m.headers?.['command-id'] === undefined) return m;
  if (isMqtt(protocol) && !devices.wants(clientId, m.topic)) return undefined;
  return withCorrelation(m, protocol);
}

export class MailboxDelivery {
  /** Commands claimed or handed to a session and not yet settled. */
  private readonly inflight = new Set<string>();
  /** Commands settled whose settlement the store has not yet taken. */
  private readonly settling = new Set<string>();
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

  /** True while this node awaits the outcome of its delivery of command `id` (it must not be queued again under it). */
  awaits(id: string): boolean {
    return this.inflight.has(id) || this.settling.has(id);
  }

  private async drain(clientId: string): Promise<void> {
    do {
      this.again.delete(clientId);
      const full = await this.round(clientId).catch((err: unknown) => {
        // Retried at the next sweep or reconnection.
        this.deps.failed(err, { operation: 'delivery round', clientId });
        return false;
      });
      if (full) this.again.add(clientId);
    } while (this.again.has(clientId));
    // In the same turn as the last check, so a kick arriving now starts a new drain instead of being lost.
    this.draining.delete(clientId);
  }

  /** One round; true when it filled a whole batch (there may be more). */
  private async round(clientId: string): Promise<boolean> {
    const { devices, store } = this.deps;
    const session = devices.lookup(clientId);
    if (!session) return this.deps.remote ? this.remoteRound(clientId, this.deps.remote) : false;
    const port = this.deps.listener(session.listener);
    if (!port) return false;
    // Order per device: a command the session cannot take yet holds back the ones after it.
    const ready = (r: CommandRecord): boolean => devices.lookup(clientId) === session && (!isMqtt(port.protocol) || devices.wants(clientId, r.address));
    const batch = await store.queued(clientId, BATCH);
    let handed = 0;
    for (const r of batch) {
      if (this.inflight.has(r.id)) continue;
      if (r.expiresAt <= this.deps.now()) continue; // the sweep expires it
      if (!ready(r)) return false;
      const claimed = await this.claim(r);
      if (!claimed) continue;
      const [sent, settle] = claimed;
      if (!ready(sent)) {
        settle(false, 'the device session changed before the command was handed to it');
        return false;
      }
      if (!port.deliver(clientId, commandMessage(sent, port.protocol, settle))) {
        settle(false, 'the device session could not take it now');
        return false;
      }
      handed++;
    }
    return batch.length === BATCH && handed > 0;
  }

  /**
   * One round for a device connected to another node (or to none: then
   * nothing is read or written but one presence lookup). The node holding
   * the session drains the shared mailbox itself, so that one node hands the
   * device its commands, in order; only when it cannot be asked are they
   * claimed here and forwarded over the bus.
   */
  private async remoteRound(clientId: string, remote: RemoteDevices): Promise<boolean> {
    const { devices, store } = this.deps;
    const holder = await remote.holder(clientId);
    if (holder === undefined) return false;
    if (holder !== remote.id && remote.drainOn && (await remote.drainOn(holder, clientId))) return false;
    const batch = await store.queued(clientId, BATCH);
    let handed = 0;
    for (const r of batch) {
      if (this.inflight.has(r.id)) continue;
      if (r.expiresAt <= this.deps.now()) continue;
      if (devices.lookup(clientId)) return true; // it connected here meanwhile: the next round is local
      const claimed = await this.claim(r);
      if (!claimed) continue;
      const [sent, settle] = claimed;
      const placed = await remote.deliver(clientId, commandMessage(sent, undefined, settle));
      if (placed === 'absent') {
        settle(false, 'the device is connected to no node');
        return false;
      }
      handed++;
    }
    return batch.length === BATCH && handed > 0;
  }

  /**
   * Claims `r` for this node (queued → sent, one winner among nodes);
   * resolves to the sent record and its settler, which settles it once
   * (delivered, or queued again), or undefined when another claim won.
   */
  private async claim(r: CommandRecord): Promise<[CommandRecord, (delivered: boolean, reason?: string) => void] | undefined> {
    const { store, now, changed, failed } = this.deps;
    const node = this.deps.remote?.id;
    this.inflight.add(r.id);
    let sent: CommandRecord | undefined;
    try {
      sent = await store.transition(r.id, 'sent', { at: now(), ...(node !== undefined && { node }) });
    } finally {
      if (!sent) this.inflight.delete(r.id);
    }
    if (!sent) return undefined;
    changed(sent);
    let settled = false;
    const settle = (delivered: boolean, reason?: string): void => {
      if (settled) return;
      settled = true;
      this.settling.add(r.id);
      this.inflight.delete(r.id);
      const next = delivered ? 'delivered' : 'queued';
      const options = delivered ? { at: now() } : { at: now(), reason: reason ?? 'not delivered' };
      // A store that failed to take it leaves the command sent; the sweep queues it again (requeueUnawaited).
      void store
        .transition(r.id, next, options)
        .then(
          (rec) => rec && changed(rec),
          (err: unknown) => failed(err, { operation: `transition to ${next}`, clientId: r.clientId, commandId: r.id }),
        )
        .finally(() => this.settling.delete(r.id));
    };
    return [sent, settle];
  }
}
