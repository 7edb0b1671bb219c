/**
 * Storage contract for persistent device sessions (MQTT 3.1.1 Clean Session
 * 0, MQTT 5 Clean Start 0 with a Session Expiry Interval; MQTT 5.0 §4.1).
 * The store holds a session while no connection does: its subscriptions,
 * the messages sent and not yet acknowledged (with their packet ids, to be
 * redelivered with DUP [MQTT-4.4.0-1]) and the messages queued for it while
 * it was offline, in order. A connection takes the session out of the store
 * when it resumes it and saves it back when it ends.
 *
 * `M` is the caller's message type: state/ knows nothing above envelope/,
 * so the store keeps messages as given (an embedded store keeps the object
 * itself; a remote one serialises what it can).
 */

/** One subscription kept with a session. */
export interface SessionSubscription {
  readonly filter: string;
  readonly qos: 0 | 1 | 2;
  readonly noLocal?: boolean;
  readonly retainAsPublished?: boolean;
  readonly subscriptionId?: number;
}

/** A message owed to a session. */
export interface PendingMessage<M> {
  readonly message: M;
  /** QoS of this delivery (the lower of the message's and the subscription's). */
  readonly qos: 0 | 1 | 2;
  /** Payload size, counted against the byte bound. */
  readonly bytes: number;
  readonly subscriptionIds?: readonly number[];
  /** Set once sent: the packet id it went out with. */
  readonly packetId?: number;
  /** QoS 2: PUBREC arrived and PUBREL was sent; PUBREL is what is resent [MQTT-4.4.0-1]. */
  readonly released?: boolean;
}

/** A session that no connection holds. */
export interface StoredSession<M> {
  readonly clientId: string;
  /** Milliseconds since the epoch after which the session is discarded. */
  readonly expiresAt: number;
  readonly subscriptions: readonly SessionSubscription[];
  /** In-flight messages (with packet ids) first, then queued ones, each in order. */
  readonly pending: readonly PendingMessage<M>[];
  /** The listener whose connection left it (a restored session is parked there again). */
  readonly listener?: string;
  /** Who authenticated its connection (a client of another principal may not resume it). */
  readonly principal?: string;
}

/** Bounds of one session's offline queue. */
export interface QueueLimits {
  readonly maxMessages: number;
  readonly maxBytes: number;
}

/** Outcome of {@link SessionStore.enqueue}. */
export type EnqueueResult = 'queued' | 'full' | 'no-session';

export interface SessionStore<M> {
  /** Loads what a previous process left (durable stores); before any other call. */
  open?(): Promise<void>;
  /**
   * The stored sessions without their messages, for the caller to represent
   * them again after a restart (their subscriptions keep collecting
   * messages). Only stores whose sessions belong to this process alone
   * implement it: a shared store's sessions are parked by the node that
   * saved them.
   */
  list?(): Promise<Array<Omit<StoredSession<M>, 'pending'>>>;
  /** Stores (or replaces) a session its connection has left. */
  save(session: StoredSession<M>): Promise<void>;
  /** Removes and returns a stored session, expired or not (the caller settles what it owed). */
  take(clientId: string): Promise<StoredSession<M> | undefined>;
  /**
   * Appends a message to a stored session's queue unless that would exceed
   * `limits` (in-flight messages count too): the newest message is refused
   * ('full'), those already queued are kept.
   */
  enqueue(clientId: string, message: PendingMessage<M>, limits: QueueLimits): Promise<EnqueueResult>;
  /** Removes and returns every session whose expiry is at or before `now`. */
  expire(now: number): Promise<Array<StoredSession<M>>>;
  /** Number of stored sessions. */
  count(): Promise<number>;
  close(): Promise<void>;
}
