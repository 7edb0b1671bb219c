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
  /**
   * An MQTT 5 Will waiting for its Will Delay Interval (§3.1.3.2.2) when the
   * connection ended: published at `at` (ms since the epoch) unless the
   * client reconnects first. `data` is the caller's, as JSON.
   */
  readonly will?: StoredWill;
}

/** A delayed Will kept with its session (see {@link StoredSession.will}). */
export interface StoredWill {
  readonly at: number;
  readonly data: unknown;
}

/**
 * A session a connection of this process holds, written through while the
 * connection lives ({@link SessionStore.hold}) so that a process killed
 * meanwhile (`kill -9`) does not lose it. It has no expiry yet: it expires
 * `expirySeconds` after its connection ends, which a later process reading
 * it takes to be the moment it reads it ({@link liveExpiry}).
 */
export type HeldSession = Omit<StoredSession<never>, 'pending' | 'expiresAt' | 'will'> & {
  readonly expirySeconds: number;
  /** The connection's delayed Will, due `delaySeconds` after it ends (a crash ends it: {@link storedFromHeld}). */
  readonly will?: HeldWill;
};

/** A held session's delayed Will: its delay (min(Will Delay, Session Expiry), > 0) and the caller's data. */
export interface HeldWill {
  readonly delaySeconds: number;
  readonly data: unknown;
}

/** A delayed Will claimed by {@link SessionStore.claimDueWills}: its session's client id and listener. */
export interface DueWill {
  readonly clientId: string;
  readonly listener?: string;
  readonly will: StoredWill;
}

/** What changed in a held session since the last {@link SessionStore.update}. */
export interface SessionChange<M> {
  /** The session's subscriptions now (after SUBSCRIBE or UNSUBSCRIBE), replacing the stored ones. */
  readonly subscriptions?: readonly SessionSubscription[];
  /**
   * Messages owed to the device, added or changed (sent: packet id; QoS 2
   * released), each under the connection's number for it: numbers increase
   * in the order the messages are owed, which is the order they come back in.
   */
  readonly put?: ReadonlyArray<readonly [number, PendingMessage<M>]>;
  /** Messages no longer owed (acknowledged, dropped, expired), by number. */
  readonly del?: readonly number[];
}

/** Session Expiry Interval 0xFFFFFFFF: the session does not expire (MQTT 5.0 §3.1.2.11.2). */
const NEVER = 0xffffffff;

/** When a held session read at `now` expires: its connection ended at the latest then. */
export function liveExpiry(expirySeconds: number, now: number): number {
  return expirySeconds >= NEVER ? Number.MAX_SAFE_INTEGER : now + expirySeconds * 1000;
}

/**
 * A held session read as stored by a process other than the one that held
 * it (after a crash): its connection ended at `since` at the latest, so its
 * expiry and its Will's delay run from then.
 */
export function storedFromHeld<T extends Partial<HeldSession>>(
  held: T,
  since: number,
): Omit<T, 'expirySeconds' | 'will'> & { expiresAt: number; will?: StoredWill } {
  const { expirySeconds, will, ...rest } = held;
  return {
    ...rest,
    expiresAt: liveExpiry(expirySeconds ?? 0, since),
    ...(will && { will: { at: since + will.delaySeconds * 1000, data: will.data } }),
  };
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
  /**
   * Writes through a session that a connection of this process holds,
   * replacing what the store has for its client id (a resumed session's
   * messages come back through {@link update}). Until {@link save} (the
   * connection ends and the session outlives it) or {@link take}, the store
   * keeps it apart: it is neither listed, counted, queued for nor expired;
   * a later process (after a crash) reads it as a stored session whose
   * expiry runs from then ({@link liveExpiry}). MQTT does not ask for session
   * state on disk (MQTT 5.0 §4.1), so stores need not wait for the disk
   * before answering: a crash loses at most the last batch of changes.
   */
  hold?(session: HeldSession): Promise<void>;
  /** Changes to a held session ({@link hold}); ignored for a session not held. */
  update?(clientId: string, change: SessionChange<M>): Promise<void>;
  /** Removes the delayed Will of a stored session (it was published). */
  clearWill?(clientId: string): Promise<void>;
  /**
   * Removes and returns the delayed Will of a stored session, if it still
   * has one: of callers racing for it (timers, sweeps, on several nodes)
   * exactly one gets it, and none once the session was taken (its client
   * reconnected, [MQTT-3.1.3-9]) or expired. The caller publishes it.
   */
  claimWill?(clientId: string): Promise<StoredWill | undefined>;
  /** Claims (as {@link claimWill}) the delayed Wills of stored sessions due at or before `now`. */
  claimDueWills?(now: number): Promise<DueWill[]>;
  /**
   * Stores shared by nodes: turns the held sessions of nodes found dead
   * (their presence heartbeat lapsed) into stored sessions whose expiry
   * and Will delay run from now ({@link storedFromHeld}), as a restarted
   * embedded store does at {@link open}; with `own`, also those this node
   * held before it restarted (call it so before accepting connections).
   * Each held session is adopted once, by one node. Returns how many.
   */
  adoptOrphans?(own: boolean): Promise<number>;
  /** Number of stored sessions. */
  count(): Promise<number>;
  close(): Promise<void>;
}
