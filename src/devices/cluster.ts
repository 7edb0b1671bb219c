/**
 * The device registry joined to the other nodes through the state layer:
 * - a device that connects here claims its client id in presence; when
 *   another live node held it, that node is told to close its session
 *   (client-id takeover across nodes, [MQTT-3.1.4-3]);
 * - a publication toward devices (`target: devices`, script `publish()`) is
 *   delivered here and broadcast on the bus to every other node's sessions;
 * - a message for one device is delivered here when it is connected here,
 *   otherwise sent to the node presence names; when the message wants its
 *   settlement (onSettled: a command), that node sends the session's
 *   verdict back over the bus, and a verdict that never comes counts as
 *   "not delivered" after a bound (the command is queued again: at least once).
 * Presence is written per connection; a telemetry message whose device is
 * connected here costs no state operation at all.
 */
import { randomUUID } from 'node:crypto';
import type { Bus, BusMessage, Presence } from '../state/index.js';
import type { DeviceMessage, DeviceRegistry, RegistryPeers, Subscriber } from './registry.js';
import { fromWire, toWire } from './wire.js';

export interface DeviceClusterOptions {
  readonly registry: DeviceRegistry;
  readonly presence: Presence;
  readonly bus: Bus;
  /** How often presence is renewed. */
  readonly heartbeatMs: number;
  /** Said with each heartbeat (admin URL, version...). */
  readonly info?: () => Readonly<Record<string, string | number>>;
  /** Delivers one message to a session of this node through its listener. */
  readonly deliverLocal: (subscriber: Subscriber, message: DeviceMessage) => boolean;
  /** Closes a session of this node that has no takeOver() of its own, through its listener. */
  readonly closeLocal: (subscriber: Subscriber, reason: string) => void;
  /** Something noteworthy happened (a takeover across nodes). */
  readonly onEvent?: (event: string, fields: Record<string, unknown>) => void;
}

/** Where {@link DeviceCluster.deliver} put a message. */
export type Placement = 'local' | 'remote' | 'absent';

/**
 * How long a message sent to another node waits for its settlement at most
 * (less when it expires sooner): a node that died, or a lost bus message,
 * leaves it unsettled, and the sender must get it back to retry.
 */
export const REMOTE_SETTLE_MS = 60_000;

interface Unsettled {
  readonly settle: NonNullable<DeviceMessage['onSettled']>;
  readonly timer: NodeJS.Timeout;
}

export class DeviceCluster implements RegistryPeers {
  private timer?: NodeJS.Timeout;
  /** Messages delivered through another node whose settlement has not come back, by settle id. */
  private readonly unsettled = new Map<string, Unsettled>();
  private finalHandler: ((id: string) => void) | undefined;
  private drainHandler: ((clientId: string) => void) | undefined;

  constructor(private readonly options: DeviceClusterOptions) {}

  get nodeId(): string {
    return this.options.presence.nodeId;
  }

  /**
   * Listens on the bus, beats once and keeps beating; with `join`, joins the
   * registry to the other nodes (a lone embedded node only beats, so the
   * admin API lists it, and costs its devices nothing).
   */
  async start(join = true): Promise<void> {
    const o = this.options;
    if (join) await o.bus.listen((m, from) => this.receive(m, from));
    await this.beat();
    this.timer = setInterval(() => void this.beat(), o.heartbeatMs);
    this.timer.unref();
    if (join) o.registry.attach(this);
  }

  /** Stops beating and removes this node's presence (its devices are gone with it). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const id of [...this.unsettled.keys()]) this.settled(id, false, 'this node stopped before the other node settled it');
    await this.options.bus.close();
    await this.options.presence.leave();
  }

  connected(clientId: string, principal?: string): void {
    const o = this.options;
    void o.presence.claim(clientId, principal).then((previous) => {
      if (previous === undefined) return;
      o.onEvent?.('takeover', { clientId, from: previous });
      void o.bus.send(previous, { kind: 'close', clientId, byNode: this.nodeId, reason: `client id connected on node ${this.nodeId}` });
    });
  }

  disconnected(clientId: string): void {
    void this.options.presence.release(clientId);
  }

  published(message: DeviceMessage, fromClientId?: string): void {
    void this.options.bus.broadcast({ kind: 'publish', message: toWire(message), ...(fromClientId !== undefined && { fromClientId }) });
  }

  /**
   * After the shared store came back (it may have restarted empty): beats at
   * once and claims every session of this node again, one operation per
   * device, without closing anything (which connection is newer cannot be
   * told after an outage).
   */
  async reclaim(): Promise<void> {
    await this.beat();
    await Promise.all([...this.options.registry.sessions()].map((s) => this.options.presence.claim(s.clientId, s.principal)));
  }

  async heldElsewhere(clientId: string): Promise<{ readonly principal?: string | undefined } | undefined> {
    const h = await this.options.presence.holder?.(clientId);
    return h === undefined || h.node === this.nodeId ? undefined : h;
  }

  /** The node holding `clientId`: this one, another, or none. */
  async holder(clientId: string): Promise<string | undefined> {
    if (this.options.registry.lookup(clientId)) return this.nodeId;
    return this.options.presence.lookup(clientId);
  }

  /**
   * Delivers to one device wherever it is connected. Like Subscriber.deliver:
   * 'absent' leaves the message with the caller (onSettled is never called);
   * otherwise onSettled is called exactly once, also for a remote delivery.
   */
  async deliver(clientId: string, message: DeviceMessage): Promise<Placement> {
    const o = this.options;
    const here = o.registry.lookup(clientId);
    if (here) return o.deliverLocal(here, message) ? 'local' : 'absent';
    const node = await o.presence.lookup(clientId);
    if (node === undefined || node === this.nodeId) return 'absent';
    const settleId = message.onSettled ? this.await(node, message.onSettled, message.expiresAt) : undefined;
    const sent = await o.bus.send(node, { kind: 'deliver', clientId, message: toWire(message), ...(settleId !== undefined && { settleId }) });
    if (sent) return 'remote';
    if (settleId !== undefined) this.forget(settleId);
    return 'absent';
  }

  /** Tells `node` that command `id`, queued through its API, became final here. */
  notifyFinal(node: string, id: string): Promise<boolean> {
    return this.options.bus.send(node, { kind: 'command-final', id });
  }

  /** What to do when another node says a command of this node's API became final there. */
  onFinal(handler: (id: string) => void): void {
    this.finalHandler = handler;
  }

  /** Asks `node`, which holds `clientId`'s session, to drain the device's shared mailbox; false when no such node listens. */
  drainOn(node: string, clientId: string): Promise<boolean> {
    return this.options.bus.send(node, { kind: 'mailbox', clientId });
  }

  /** What to do when another node asks this one to drain a device's mailbox. */
  onDrain(handler: (clientId: string) => void): void {
    this.drainHandler = handler;
  }

  /** Registers a remote delivery's settlement, and its bound. */
  private await(node: string, settle: Unsettled['settle'], expiresAt: number | undefined): string {
    const id = randomUUID();
    const ms = Math.max(1000, Math.min(REMOTE_SETTLE_MS, expiresAt === undefined ? REMOTE_SETTLE_MS : expiresAt - Date.now()));
    const timer = setTimeout(() => this.settled(id, false, `no settlement from node ${node} within ${ms} ms`), ms);
    timer.unref();
    this.unsettled.set(id, { settle, timer });
    return id;
  }

  private forget(id: string): Unsettled | undefined {
    const u = this.unsettled.get(id);
    if (!u) return undefined;
    this.unsettled.delete(id);
    clearTimeout(u.timer);
    return u;
  }

  /** A settlement came back (or its bound passed): the first one counts, later ones are ignored. */
  private settled(id: string, delivered: boolean, reason?: string): void {
    this.forget(id)?.settle(delivered, reason);
  }

  private async beat(): Promise<void> {
    await this.options.presence.heartbeat({ devices: this.options.registry.connectedCount, ...this.options.info?.() });
  }

  private receive(m: BusMessage, from: string): void {
    const o = this.options;
    switch (m.kind) {
      case 'publish':
        o.registry.publishLocal(fromWire(m.message), m.fromClientId);
        return;
      case 'deliver': {
        const s = o.registry.lookup(m.clientId);
        const id = m.settleId;
        const reply =
          id === undefined
            ? undefined
            : (delivered: boolean, reason?: string): void =>
                void o.bus.send(from, { kind: 'settled', settleId: id, delivered, ...(reason !== undefined && { reason }) });
        const message = fromWire(m.message);
        const taken = s !== undefined && o.deliverLocal(s, reply ? { ...message, onSettled: reply } : message);
        if (!taken) reply?.(false, s ? `the device session on node ${this.nodeId} could not take it now` : `not connected to node ${this.nodeId}`);
        return;
      }
      case 'settled':
        this.settled(m.settleId, m.delivered, m.reason);
        return;
      case 'close':
        void this.closeTakenOver(m.clientId, m.reason, from);
        return;
      case 'command-final':
        this.finalHandler?.(m.id);
        return;
      case 'mailbox':
        this.drainHandler?.(m.clientId);
        return;
    }
  }

  /** Closes the local session of a client id another node claimed, unless this node claimed it again since. */
  private async closeTakenOver(clientId: string, reason: string, by: string): Promise<void> {
    const o = this.options;
    const s = o.registry.lookup(clientId);
    if (!s) return;
    if ((await o.presence.lookup(clientId)) === this.nodeId) return;
    if (o.registry.lookup(clientId) !== s) return;
    o.onEvent?.('taken-over', { clientId, by });
    if (s.takeOver) s.takeOver();
    else o.closeLocal(s, reason);
  }
}
