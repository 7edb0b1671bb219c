/**
 * The device registry joined to the other nodes through the state layer:
 * - a device that connects here claims its client id in presence; when
 *   another live node held it, that node is told to close its session
 *   (client-id takeover across nodes, [MQTT-3.1.4-3]);
 * - a publication toward devices (`target: devices`, script `publish()`) is
 *   delivered here and broadcast on the bus to every other node's sessions;
 * - a message for one device is delivered here when it is connected here,
 *   otherwise sent to the node presence names.
 * Presence is written per connection; a telemetry message whose device is
 * connected here costs no state operation at all.
 */
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

export class DeviceCluster implements RegistryPeers {
  private timer?: NodeJS.Timeout;

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
    await this.options.bus.close();
    await this.options.presence.leave();
  }

  connected(clientId: string): void {
    const o = this.options;
    void o.presence.claim(clientId).then((previous) => {
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
    await Promise.all([...this.options.registry.sessions()].map((s) => this.options.presence.claim(s.clientId)));
  }

  /** Delivers to one device wherever it is connected. */
  async deliver(clientId: string, message: DeviceMessage): Promise<Placement> {
    const o = this.options;
    const here = o.registry.lookup(clientId);
    if (here) return o.deliverLocal(here, message) ? 'local' : 'absent';
    const node = await o.presence.lookup(clientId);
    if (node === undefined || node === this.nodeId) return 'absent';
    return (await o.bus.send(node, { kind: 'deliver', clientId, message: toWire(message) })) ? 'remote' : 'absent';
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
        if (s) o.deliverLocal(s, fromWire(m.message));
        return;
      }
      case 'close':
        void this.closeTakenOver(m.clientId, m.reason, from);
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
