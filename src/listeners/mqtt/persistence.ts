/**
 * Persistent MQTT sessions (MQTT 5.0 §4.1; 3.1.1 §3.1.2.4). While no
 * connection holds a session, it is kept in the session store
 * (src/state/sessions.ts) and represented in the device registry by a
 * {@link ParkedSession}: it keeps the session's subscriptions there, so that
 * messages published toward devices meanwhile are queued for it, in order.
 * A connection resuming the session takes its subscriptions and messages
 * back; an expired session is discarded and its messages are settled false.
 */
import type { Logger } from 'pino';
import type { DeviceMessage, DeviceRegistry, QoS, Subscriber } from '../../devices/registry.js';
import type { MqttSessionOptions } from '../../config/types.js';
import type { PendingMessage, SessionStore, SessionSubscription, StoredSession, StoredWill } from '../../state/sessions.js';
import type { MqttMetrics } from './metrics.js';
import { settle } from './outbound.js';

/** v5 Session Expiry Interval 0xFFFFFFFF: the session does not expire (§3.1.2.11.2). */
export const NEVER_EXPIRES = 0xffffffff;
/** Longest single timer Node.js can arm; longer expiries re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What a connection hands over when its session outlives it. */
export interface SessionHandover {
  readonly clientId: string;
  readonly listener: string;
  readonly principal: string | undefined;
  readonly expirySeconds: number;
  readonly pending: ReadonlyArray<PendingMessage<DeviceMessage>>;
  /** The connection, whose subscriptions the parked session takes over. */
  readonly subscriber: Subscriber;
  /** Its Will, waiting for its delay (will.ts), kept with the session so that a restart does not drop it. */
  readonly will?: StoredWill;
}

/** Everything the sessions of one gateway share. */
export interface SessionContext {
  readonly store: SessionStore<DeviceMessage>;
  readonly devices: DeviceRegistry;
  readonly options: MqttSessionOptions;
  readonly metrics: MqttMetrics;
  readonly logger: Logger;
  /** Publishes the Will of a session that ended with it still waiting (§3.1.3.2.2: the session ending makes it due). */
  readonly onWill?: (clientId: string, listener: string | undefined, will: StoredWill) => void;
}

/** The parked sessions of one store (one per gateway), by client id. */
const tables = new WeakMap<object, Map<string, ParkedSession>>();

function tableOf(store: object): Map<string, ParkedSession> {
  let t = tables.get(store);
  if (!t) tables.set(store, (t = new Map()));
  return t;
}

/** A session without a connection, as the device registry sees it: deliveries go to its offline queue. */
export class ParkedSession implements Subscriber {
  /** Resolves once the store holds the session. */
  saved: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private active = true;

  constructor(
    private readonly cx: SessionContext,
    readonly clientId: string,
    readonly listener: string,
    readonly principal: string | undefined,
    private readonly expiresAt: number,
  ) {}

  deliver(message: DeviceMessage, qos: QoS, subscriptionIds?: readonly number[]): boolean {
    if (!this.active) return false;
    // MQTT 5.0 §4.1: queuing QoS 0 messages for an offline session is optional.
    if (qos === 0 && !this.cx.options.queueQos0) return false;
    if (message.expiresAt !== undefined && message.expiresAt <= Date.now()) return false;
    const pending: PendingMessage<DeviceMessage> = {
      message,
      qos,
      bytes: message.payload.length,
      ...(subscriptionIds && { subscriptionIds }),
    };
    const limits = { maxMessages: this.cx.options.maxQueuedMessages, maxBytes: this.cx.options.maxQueuedBytes };
    this.cx.store.enqueue(this.clientId, pending, limits).then(
      (r) => {
        if (r === 'queued') return;
        // Gone from the store: resumed by a connection on another node (shared store), or expired there.
        if (r === 'no-session') this.discard();
        this.cx.metrics.dropped(r === 'full' ? 'session-queue-full' : 'session-gone');
        settle(message, false, r === 'full' ? 'session queue full' : 'session ended');
      },
      (err: unknown) => settle(message, false, `session store: ${(err as Error).message}`),
    );
    return true;
  }

  /** Arms the expiry timer (§3.1.2.11.2: the session ends Session Expiry Interval after the connection). */
  arm(): void {
    // Retired before its save finished (resumed, or the gateway stopped): no timer outlives it.
    if (!this.active || this.expiresAt >= Number.MAX_SAFE_INTEGER) return;
    const wait = Math.min(Math.max(0, this.expiresAt - Date.now()), MAX_TIMER_MS);
    this.timer = setTimeout(() => {
      if (Date.now() < this.expiresAt) this.arm();
      else void expire(this.cx, this);
    }, wait);
    this.timer.unref();
  }

  /** Stops taking messages and gives up its subscriptions. */
  discard(): void {
    if (!this.active) return;
    this.retire();
    this.cx.devices.unsubscribeAll(this);
  }

  /** Stops taking messages (the session is resumed, discarded or expired). */
  retire(): void {
    this.active = false;
    clearTimeout(this.timer);
    const table = tableOf(this.cx.store);
    if (table.get(this.clientId) === this) table.delete(this.clientId);
  }
}

/**
 * Keeps a session whose connection ended: into the store with its
 * subscriptions and unacknowledged/queued messages, and into the registry
 * as a ParkedSession. Returns once the store has it.
 */
export function park(cx: SessionContext, h: SessionHandover): Promise<void> {
  const expiresAt = h.expirySeconds === NEVER_EXPIRES ? Number.MAX_SAFE_INTEGER : Date.now() + h.expirySeconds * 1000;
  const parked = new ParkedSession(cx, h.clientId, h.listener, h.principal, expiresAt);
  const table = tableOf(cx.store);
  table.get(h.clientId)?.retire();
  table.set(h.clientId, parked);
  const subscriptions = subscriptionsOf(cx, h.subscriber);
  cx.devices.moveSubscriptions(h.subscriber, parked);
  const session: StoredSession<DeviceMessage> = {
    clientId: h.clientId,
    expiresAt,
    subscriptions,
    pending: h.pending,
    listener: h.listener,
    ...(h.principal !== undefined && { principal: h.principal }),
    ...(h.will && { will: h.will }),
  };
  parked.saved = cx.store.save(session).then(
    () => parked.arm(),
    (err: unknown) => {
      // Not stored: the session is lost; what it owed is settled rather than forgotten.
      parked.retire();
      cx.devices.unsubscribeAll(parked);
      settleAll(session, `session store: ${(err as Error).message}`);
    },
  );
  return parked.saved;
}

/** The subscriptions of `subscriber` as a session keeps them. */
export function subscriptionsOf(cx: SessionContext, subscriber: Subscriber): SessionSubscription[] {
  return cx.devices.subscriptionEntries(subscriber).map(({ filter, options }) => ({
    filter,
    qos: options.qos,
    ...(options.noLocal && { noLocal: true }),
    ...(options.retainAsPublished && { retainAsPublished: true }),
    ...(options.subscriptionId !== undefined && { subscriptionId: options.subscriptionId }),
  }));
}

/**
 * The gateway stops: the parked sessions of `listener` stop taking messages
 * and their expiry timers end, so that none fires into a closed store. The
 * store keeps them; a durable one parks them again at the next start.
 */
export function retireParked(cx: SessionContext, listener: string): void {
  for (const parked of [...tableOf(cx.store).values()]) if (parked.listener === listener) parked.retire();
}

/**
 * Parks again the sessions a durable store kept across a restart (those
 * last held by `listener`), so that their
 * subscriptions collect messages before their devices come back; a delayed
 * Will kept with one goes to `onWill` (will.ts arms it again). Stores
 * shared between nodes do not list their sessions: each is parked by the
 * node that saved it.
 */
export async function restoreSessions(cx: SessionContext, listener: string, onWill?: (clientId: string, will: StoredWill) => void): Promise<number> {
  const table = tableOf(cx.store);
  let n = 0;
  for (const s of (await cx.store.list?.()) ?? []) {
    if (table.has(s.clientId) || s.listener !== listener) continue;
    const parked = new ParkedSession(cx, s.clientId, listener, s.principal, s.expiresAt);
    table.set(s.clientId, parked);
    resubscribe(cx, parked, s.subscriptions);
    parked.arm();
    if (s.will) onWill?.(s.clientId, s.will);
    n++;
  }
  return n;
}

/**
 * Takes the stored session of `clientId` for a new connection. With
 * `resume` (Clean Start 0) its subscriptions move to `subscriber` and its
 * messages are returned; otherwise (Clean Start 1) it is discarded.
 * Undefined when there was no session (Session Present 0).
 */
export async function takeSession(
  cx: SessionContext,
  clientId: string,
  subscriber: Subscriber,
  resume: boolean,
): Promise<ReadonlyArray<PendingMessage<DeviceMessage>> | undefined> {
  const parked = tableOf(cx.store).get(clientId);
  if (parked) await parked.saved;
  // Moved before the store gives the session up: what is published meanwhile goes to the new connection's queue.
  parked?.retire();
  if (parked && resume) cx.devices.moveSubscriptions(parked, subscriber);
  else if (parked) cx.devices.unsubscribeAll(parked);
  let stored: StoredSession<DeviceMessage> | undefined;
  try {
    stored = await cx.store.take(clientId);
  } catch (err) {
    // A shared store that does not answer: a session to resume cannot be served (the caller refuses the
    // connection); a clean one goes on without discarding the stored one, which expires in the store.
    if (resume) throw err;
    return undefined;
  }
  if (!stored) return undefined;
  if (!resume || stored.expiresAt <= Date.now()) {
    if (resume) cx.devices.unsubscribeAll(subscriber); // an expired session's subscriptions go with it
    settleAll(stored, resume ? 'session expired' : 'session discarded');
    return undefined;
  }
  if (!parked) {
    // Stored by another process (or before a restart): no ParkedSession held its subscriptions.
    resubscribe(cx, subscriber, stored.subscriptions);
  }
  return stored.pending;
}

/** Subscribes `subscriber` to a stored session's subscriptions. */
function resubscribe(cx: SessionContext, subscriber: Subscriber, subscriptions: StoredSession<DeviceMessage>['subscriptions']): void {
  for (const s of subscriptions) {
    cx.devices.subscribe(subscriber, s.filter, {
      qos: s.qos,
      ...(s.noLocal && { noLocal: true }),
      ...(s.retainAsPublished && { retainAsPublished: true }),
      ...(s.subscriptionId !== undefined && { subscriptionId: s.subscriptionId }),
    });
  }
}

/** The expiry timer fired: the session and what it owed go. */
async function expire(cx: SessionContext, parked: ParkedSession): Promise<void> {
  parked.retire();
  cx.devices.unsubscribeAll(parked);
  try {
    await expireDue(cx);
  } catch (err) {
    // The store does not answer (an unreachable Redis, a failing disk): the session stays stored, and is
    // expired by the next sweep or, after a restart, when it is restored past its expiry.
    cx.logger.warn({ err, clientId: parked.clientId }, 'session expiry: the session store failed; the session expires later');
  }
}

/**
 * Removes every stored session whose expiry has passed (also those another
 * node parked, or a dead node left): what they owed is settled as not
 * delivered, a Will still waiting goes out (the session ended), and a
 * session parked here stops taking messages. Returns how many.
 */
export async function expireDue(cx: SessionContext): Promise<number> {
  const gone = await cx.store.expire(Date.now());
  const table = tableOf(cx.store);
  for (const s of gone) {
    table.get(s.clientId)?.discard();
    settleAll(s, 'session expired');
    if (s.will) cx.onWill?.(s.clientId, s.listener, s.will);
  }
  return gone.length;
}

function settleAll(session: StoredSession<DeviceMessage>, reason: string): void {
  for (const p of session.pending) settle(p.message, false, reason);
}
