/**
 * Presence: which node holds which device's connection. A node claims a
 * client id when a device connects to it and releases it when the device
 * leaves; a claim over another node's names that node, so the caller can
 * close the older session there (client-id takeover across nodes,
 * [MQTT-3.1.4-3]). Nodes prove they are alive with a heartbeat; the entries
 * of a node whose heartbeat lapsed for longer than the node TTL count as
 * absent (the node died without releasing them) and are swept.
 *
 * Presence is written per connection, never per message.
 */

/** A live node as its heartbeat describes it. */
export interface NodeInfo {
  readonly id: string;
  /** Epoch ms of its last heartbeat. */
  readonly lastSeen: number;
  /** What the node said about itself with its last heartbeat (admin URL, version, connected devices). */
  readonly info: Readonly<Record<string, string | number>>;
}

/** Who holds a client id: the node, and the principal that authenticated the connection (undefined: anonymous). */
export interface Holder {
  readonly node: string;
  readonly principal?: string | undefined;
}

export interface Presence {
  /** The node this instance speaks for. */
  readonly nodeId: string;
  /**
   * Records that `clientId` is connected here. Resolves to the id of the live
   * node that held it before, when that is another node (it must close its
   * session); undefined when nobody or this node held it. `principal` (the
   * connection's authenticated principal; none: anonymous) is kept with the
   * claim, for {@link Presence.holder}.
   */
  claim(clientId: string, principal?: string): Promise<string | undefined>;
  /** Forgets `clientId` if this node still holds it (a newer claim elsewhere is kept). */
  release(clientId: string): Promise<void>;
  /** The live node holding `clientId`, if any. */
  lookup(clientId: string): Promise<string | undefined>;
  /** The live node holding `clientId` with the principal it claimed it for, if any (one operation, like lookup). */
  holder?(clientId: string): Promise<Holder | undefined>;
  /** Renews this node's heartbeat (with `info`) and sweeps the entries of nodes found dead. */
  heartbeat(info?: Readonly<Record<string, string | number>>): Promise<void>;
  /** Nodes whose heartbeat is within the TTL, this one included once it beat. */
  nodes(): Promise<NodeInfo[]>;
  /** Stops heart-beating; this node's entries are removed (a clean stop). */
  leave(): Promise<void>;
}
