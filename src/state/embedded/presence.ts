/**
 * Presence in one process (the embedded backend): a map of client id to node.
 * Several instances may share one {@link EmbeddedHub} to stand for several
 * nodes in one process (the contract tests do); a gateway has its own hub,
 * where it is the only node.
 */
import type { Holder, NodeInfo, Presence } from '../presence.js';
import type { ScriptStateListener } from '../script-state.js';

/** What embedded instances standing for different nodes share. */
export class EmbeddedHub {
  readonly holders = new Map<string, string>();
  /** The principal of each claim that had one. */
  readonly principals = new Map<string, string>();
  readonly nodes = new Map<string, NodeInfo>();
  readonly handlers = new Map<string, (message: unknown, from: string) => void>();
  readonly counters = new Map<string, { window: number; count: number }>();
  readonly scriptState = new Map<string, Map<string, string>>();
  readonly scriptStateListeners = new Map<string, ScriptStateListener>();
}

export interface EmbeddedPresenceOptions {
  readonly nodeId: string;
  readonly nodeTtlMs: number;
  readonly hub?: EmbeddedHub;
  readonly now?: () => number;
}

export class EmbeddedPresence implements Presence {
  readonly nodeId: string;
  private readonly hub: EmbeddedHub;
  private readonly now: () => number;

  constructor(private readonly options: EmbeddedPresenceOptions) {
    this.nodeId = options.nodeId;
    this.hub = options.hub ?? new EmbeddedHub();
    this.now = options.now ?? Date.now;
  }

  async claim(clientId: string, principal?: string): Promise<string | undefined> {
    const previous = this.hub.holders.get(clientId);
    this.hub.holders.set(clientId, this.nodeId);
    if (principal === undefined) this.hub.principals.delete(clientId);
    else this.hub.principals.set(clientId, principal);
    return previous !== undefined && previous !== this.nodeId && this.alive(previous) ? previous : undefined;
  }

  async release(clientId: string): Promise<void> {
    if (this.hub.holders.get(clientId) === this.nodeId) this.drop(clientId);
  }

  async lookup(clientId: string): Promise<string | undefined> {
    const node = this.hub.holders.get(clientId);
    return node !== undefined && this.alive(node) ? node : undefined;
  }

  async holder(clientId: string): Promise<Holder | undefined> {
    const node = await this.lookup(clientId);
    return node === undefined ? undefined : { node, principal: this.hub.principals.get(clientId) };
  }

  async heartbeat(info: Readonly<Record<string, string | number>> = {}): Promise<void> {
    this.hub.nodes.set(this.nodeId, { id: this.nodeId, lastSeen: this.now(), info });
    for (const n of [...this.hub.nodes.keys()]) if (!this.alive(n)) this.forget(n);
  }

  async nodes(): Promise<NodeInfo[]> {
    return [...this.hub.nodes.values()].filter((n) => this.alive(n.id));
  }

  async leave(): Promise<void> {
    this.forget(this.nodeId);
  }

  /** This node counts as alive before its first heartbeat (a lone embedded node never needs one). */
  private alive(nodeId: string): boolean {
    const n = this.hub.nodes.get(nodeId);
    if (!n) return nodeId === this.nodeId;
    return this.now() - n.lastSeen <= this.options.nodeTtlMs;
  }

  private forget(nodeId: string): void {
    this.hub.nodes.delete(nodeId);
    for (const [c, n] of this.hub.holders) if (n === nodeId) this.drop(c);
  }

  private drop(clientId: string): void {
    this.hub.holders.delete(clientId);
    this.hub.principals.delete(clientId);
  }
}
