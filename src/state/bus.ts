/**
 * The node-to-node bus: what one node asks of another about devices it does
 * not hold. It carries notifications, not custody: a message on the bus is
 * delivered at most once (Redis pub/sub), so anything that must survive a
 * lost notification (commands) stays in its mailbox until the device settles
 * it, and telemetry is never sent over the bus at all.
 */

/** A DeviceMessage as it crosses between nodes (its payload as base64; no callbacks). */
export interface WireDeviceMessage {
  readonly topic: string;
  readonly payload: string;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly correlationId?: string;
  readonly replyTo?: string;
  readonly expiresAt?: number;
  readonly payloadUtf8?: boolean;
}

export type BusMessage =
  /**
   * Deliver to one device connected to the receiving node. With `settleId`
   * the receiver answers with one `settled` message naming it: what the
   * device's session made of the message (DeviceMessage.onSettled).
   */
  | { readonly kind: 'deliver'; readonly clientId: string; readonly message: WireDeviceMessage; readonly settleId?: string }
  /** The outcome of a `deliver` that asked for one. */
  | { readonly kind: 'settled'; readonly settleId: string; readonly delivered: boolean; readonly reason?: string }
  /** Deliver to every matching subscription on the receiving node (`target: devices`, script publish()). */
  | { readonly kind: 'publish'; readonly message: WireDeviceMessage; readonly fromClientId?: string }
  /**
   * Command `id`, queued through the receiving node's API, became final on
   * the sending node (its device answered there): the receiver reads the
   * record from the shared mailbox for whoever waits for it.
   */
  | { readonly kind: 'command-final'; readonly id: string }
  /**
   * The shared mailbox holds commands for `clientId`, whose session the
   * receiving node holds: that node drains it (one node hands a device its
   * commands, so they reach it in order).
   */
  | { readonly kind: 'mailbox'; readonly clientId: string }
  /** Close the receiving node's session of `clientId` unless it holds the client id again (takeover by `byNode`). */
  | { readonly kind: 'close'; readonly clientId: string; readonly byNode: string; readonly reason: string };

export type BusHandler = (message: BusMessage, fromNode: string) => void;

export interface Bus {
  readonly nodeId: string;
  /** Sends to one node; resolves to false when no such node is listening. */
  send(nodeId: string, message: BusMessage): Promise<boolean>;
  /** Sends to every other node listening; resolves to how many received it. */
  broadcast(message: BusMessage): Promise<number>;
  /** Registers the handler of incoming messages (one per node). Resolves once it listens. */
  listen(handler: BusHandler): Promise<void>;
  close(): Promise<void>;
}
