/**
 * Southbound registry: which devices are connected where (presence) and what
 * they subscribed to. `target: devices` routes and script `publish()`
 * decisions deliver through it to every matching subscription, like a broker.
 */
import { compileFilter, matchesCompiled, type CompiledFilter } from '../envelope/address-pattern.js';
import type { RetainedStore } from '../state/retained.js';
import { MemoryRetainedStore } from '../state/embedded/retained.js';

export type QoS = 0 | 1 | 2;

/** A message toward devices. */
export interface DeviceMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly correlationId?: string;
  readonly replyTo?: string;
  /** Milliseconds since the epoch; an expired message is not delivered. */
  readonly expiresAt?: number;
  /** The payload is declared UTF-8 text (MQTT 5 Payload Format Indicator 1, sent unaltered [MQTT-3.3.2-4]). */
  readonly payloadUtf8?: boolean;
  /**
   * Called exactly once by the device session that took the message: true when the
   * device acknowledged it (MQTT PUBACK for QoS 1, PUBCOMP for QoS 2,
   * written to the socket for QoS 0; AMQP accepted; CoAP ACK; HTTP device
   * fetched it), false with a reason when this session will not deliver it.
   */
  readonly onSettled?: (delivered: boolean, reason?: string) => void;
}

/** A connected device session that can take messages. Implemented by listeners. */
export interface Subscriber {
  readonly clientId: string;
  readonly listener: string;
  /** Who authenticated it (undefined: anonymous); a client of another principal may not take its client id over. */
  readonly principal?: string | undefined;
  /**
   * Delivers a matched message at `qos` (the lower of the message's and the
   * subscription's). Returns false when the session cannot take it; then
   * it never calls the message's `onSettled` (the caller still owns it).
   * Once taken (true), `onSettled` is called exactly once.
   */
  deliver(message: DeviceMessage, qos: QoS, subscriptionIds?: readonly number[]): boolean;
  /** Closes the session because its client id connected elsewhere (MQTT: DISCONNECT 0x8E [MQTT-3.1.4-3]); absent where the listener closes it. */
  takeOver?(): void;
}

/**
 * What the registry tells the other nodes (devices/cluster.ts): once per
 * connection and disconnection, and once per message toward devices. Never
 * per telemetry message.
 */
export interface RegistryPeers {
  /** `principal`: who authenticated the connection (undefined: anonymous). */
  connected(clientId: string, principal?: string): void;
  disconnected(clientId: string): void;
  published(message: DeviceMessage, fromClientId?: string): void;
  /** The principal of the connection another node holds `clientId` for; undefined when no other node holds it. */
  heldElsewhere?(clientId: string): Promise<{ readonly principal?: string | undefined } | undefined>;
}

export interface SubscriptionOptions {
  readonly qos: QoS;
  /** MQTT 5 No Local: do not deliver the subscriber's own publications. */
  readonly noLocal?: boolean;
  /** MQTT 5 Retain As Published: keep the retain flag of forwarded messages (otherwise it is cleared). */
  readonly retainAsPublished?: boolean;
  readonly subscriptionId?: number;
}

interface Entry {
  readonly subscriber: Subscriber;
  readonly filter: string;
  readonly levels: CompiledFilter;
  readonly options: SubscriptionOptions;
}

/** Result of one publish toward devices. */
export interface PublishResult {
  readonly matched: number;
  readonly delivered: number;
}

export class DeviceRegistry {
  /** Exact (wildcard-free) filters indexed by topic for O(1) lookup; wildcard filters scanned. */
  private readonly exact = new Map<string, Map<Subscriber, Entry>>();
  private readonly wildcard = new Map<string, Map<Subscriber, Entry>>();
  private readonly bySubscriber = new Map<Subscriber, Set<string>>();
  private readonly presence = new Map<string, Subscriber>();
  private peers?: RegistryPeers;

  /** Joins the registry to the other nodes' (the composition root does, once). */
  attach(peers: RegistryPeers): void {
    this.peers = peers;
  }

  /** Retained messages toward devices (MQTT 5.0 §3.3.1.3), kept in `retained`. */
  constructor(readonly retained: RetainedStore<DeviceMessage> = new MemoryRetainedStore<DeviceMessage>()) {}

  private readonly reachable = new Set<(clientId: string) => void>();

  /**
   * Calls `fn` whenever a session connects or subscribes: southbound
   * traffic waiting for that device (its mailbox) may be delivered now.
   * Returns the function that removes it.
   */
  onReachable(fn: (clientId: string) => void): () => void {
    this.reachable.add(fn);
    return () => this.reachable.delete(fn);
  }

  /** True when the connected session of `clientId` has a subscription matching `topic`. */
  wants(clientId: string, topic: string): boolean {
    const sub = this.presence.get(clientId);
    if (!sub) return false;
    for (const filter of this.bySubscriber.get(sub) ?? []) {
      if (filter === topic) return true;
      const entry = this.wildcard.get(filter)?.get(sub);
      if (entry && matchesCompiled(entry.levels, topic)) return true;
    }
    return false;
  }

  private notifyReachable(clientId: string): void {
    for (const fn of this.reachable) fn(clientId);
  }

  /** Registers a connected session; returns the session it replaces, if any (session takeover). */
  connect(subscriber: Subscriber): Subscriber | undefined {
    const previous = this.presence.get(subscriber.clientId);
    this.presence.set(subscriber.clientId, subscriber);
    this.notifyReachable(subscriber.clientId);
    if (previous === subscriber) return undefined;
    this.peers?.connected(subscriber.clientId, subscriber.principal);
    return previous;
  }

  /**
   * When another node holds `clientId`: the principal it holds it for (the
   * admission check against takeover across principals). Undefined alone, or
   * when no other node holds it. One presence operation per call.
   */
  heldElsewhere(clientId: string): Promise<{ readonly principal?: string | undefined } | undefined> {
    return this.peers?.heldElsewhere?.(clientId) ?? Promise.resolve(undefined);
  }

  /** Forgets a session and all its subscriptions (only if it is still the registered one). */
  disconnect(subscriber: Subscriber): void {
    if (this.presence.get(subscriber.clientId) === subscriber) {
      this.presence.delete(subscriber.clientId);
      this.peers?.disconnected(subscriber.clientId);
    }
    this.unsubscribeAll(subscriber);
  }

  /** The connected session of a client id. */
  lookup(clientId: string): Subscriber | undefined {
    return this.presence.get(clientId);
  }

  /** Every connected session (admin API). */
  sessions(): IterableIterator<Subscriber> {
    return this.presence.values();
  }

  /** A session's subscriptions (admin API). */
  subscriptionsOf(subscriber: Subscriber): Array<{ readonly filter: string; readonly qos: QoS }> {
    return this.subscriptionEntries(subscriber).map(({ filter, options }) => ({ filter, qos: options.qos }));
  }

  /** A session's subscriptions with their options (kept with a persistent session). */
  subscriptionEntries(subscriber: Subscriber): Array<{ readonly filter: string; readonly options: SubscriptionOptions }> {
    const out: Array<{ filter: string; options: SubscriptionOptions }> = [];
    for (const filter of this.bySubscriber.get(subscriber) ?? []) {
      const entry = this.tableOf(filter).get(filter)?.get(subscriber);
      if (entry) out.push({ filter, options: entry.options });
    }
    return out;
  }

  /** Hands every subscription of `from` to `to` (a session parked or resumed), keeping their options. */
  moveSubscriptions(from: Subscriber, to: Subscriber): void {
    for (const { filter, options } of this.subscriptionEntries(from)) {
      this.unsubscribe(from, filter);
      this.subscribe(to, filter, options);
    }
    this.bySubscriber.delete(from);
  }

  private tableOf(filter: string): Map<string, Map<Subscriber, Entry>> {
    return filter.includes('+') || filter.includes('#') ? this.wildcard : this.exact;
  }

  get connectedCount(): number {
    return this.presence.size;
  }

  /** Adds or replaces a subscription; returns true when it replaced one (MQTT 5 Retain Handling 1 needs to know). */
  subscribe(subscriber: Subscriber, filter: string, options: SubscriptionOptions): boolean {
    const table = this.tableOf(filter);
    let subs = table.get(filter);
    if (!subs) table.set(filter, (subs = new Map()));
    const existed = subs.has(subscriber);
    subs.set(subscriber, { subscriber, filter, levels: compileFilter(filter), options });
    let filters = this.bySubscriber.get(subscriber);
    if (!filters) this.bySubscriber.set(subscriber, (filters = new Set()));
    filters.add(filter);
    if (this.presence.get(subscriber.clientId) === subscriber) this.notifyReachable(subscriber.clientId);
    return existed;
  }

  /**
   * Keeps the message as its topic's retained message; an empty payload
   * deletes it and is not kept [MQTT-3.3.1-6, MQTT-3.3.1-7]. The stored
   * copy carries no settlement hook: the publisher's message settles once.
   */
  private retain(message: DeviceMessage): void {
    const { onSettled: _settled, ...kept } = message;
    const done = message.payload.length === 0 ? this.retained.delete(message.topic) : this.retained.set(message.topic, kept, message.payload.length);
    done.catch(() => undefined); // a failed store keeps the previous retained message; live delivery goes on
  }

  /** The unexpired retained messages matching `filter`, for a new subscription. */
  async retainedFor(filter: string): Promise<DeviceMessage[]> {
    const now = Date.now();
    return (await this.retained.match(filter)).filter((m) => m.expiresAt === undefined || m.expiresAt > now);
  }

  /** Returns true when the subscription existed. */
  unsubscribe(subscriber: Subscriber, filter: string): boolean {
    const table = this.tableOf(filter);
    const subs = table.get(filter);
    const existed = subs?.delete(subscriber) ?? false;
    if (subs && subs.size === 0) table.delete(filter);
    this.bySubscriber.get(subscriber)?.delete(filter);
    return existed;
  }

  unsubscribeAll(subscriber: Subscriber): void {
    const filters = this.bySubscriber.get(subscriber);
    if (!filters) return;
    for (const f of [...filters]) this.unsubscribe(subscriber, f);
    this.bySubscriber.delete(subscriber);
  }

  /**
   * Delivers to every matching subscription. A subscriber with several
   * matching subscriptions gets the message once, at the highest granted QoS
   * (MQTT 5.0 §4.7.2 permits either; once is what devices expect).
   */
  publish(message: DeviceMessage, fromClientId?: string): PublishResult {
    if (message.expiresAt !== undefined && message.expiresAt <= Date.now()) return { matched: 0, delivered: 0 };
    this.peers?.published(message, fromClientId);
    return this.publishLocal(message, fromClientId);
  }

  /** {@link publish} to the sessions of this node only (a publication another node forwarded). */
  publishLocal(message: DeviceMessage, fromClientId?: string): PublishResult {
    if (message.expiresAt !== undefined && message.expiresAt <= Date.now()) return { matched: 0, delivered: 0 };
    if (message.retain) this.retain(message);
    const targets = new Map<Subscriber, { qos: QoS; ids: number[]; retainAsPublished: boolean }>();
    const consider = (entry: Entry): void => {
      if (entry.options.noLocal && fromClientId !== undefined && entry.subscriber.clientId === fromClientId) return;
      const qos = Math.min(entry.options.qos, message.qos) as QoS;
      const t = targets.get(entry.subscriber);
      const rap = entry.options.retainAsPublished === true;
      if (!t) targets.set(entry.subscriber, { qos, ids: entry.options.subscriptionId ? [entry.options.subscriptionId] : [], retainAsPublished: rap });
      else {
        if (qos > t.qos) t.qos = qos;
        if (rap) t.retainAsPublished = true;
        if (entry.options.subscriptionId) t.ids.push(entry.options.subscriptionId);
      }
    };
    const exact = this.exact.get(message.topic);
    if (exact) for (const e of exact.values()) consider(e);
    for (const subs of this.wildcard.values()) {
      for (const e of subs.values()) {
        if (matchesCompiled(e.levels, message.topic)) consider(e);
        else break; // every entry in this map shares the same filter
      }
    }
    // One settlement for the message however many sessions take it: the first success, else the last failure.
    const shared = message.onSettled && targets.size > 1 ? fanOut(message) : undefined;
    let delivered = 0;
    for (const [sub, t] of targets) {
      const rap = t.retainAsPublished;
      let m = shared ? shared.copy() : message;
      // MQTT 5.0 §3.8.3.1: without Retain As Published, forwarded messages go out with RETAIN 0.
      if (m.retain && !rap) m = { ...m, retain: false };
      if (sub.deliver(m, t.qos, t.ids.length ? t.ids : undefined)) delivered++;
      else shared?.notTaken();
    }
    shared?.done();
    return { matched: targets.size, delivered };
  }
}

/**
 * Settles a message taken by several sessions exactly once: true with the
 * first session that delivers it, false once every session has failed.
 */
function fanOut(message: DeviceMessage): { copy(): DeviceMessage; notTaken(): void; done(): void } {
  const settle = message.onSettled!;
  let outstanding = 0;
  let finished = false;
  let sealed = false;
  let lastReason: string | undefined;
  const finish = (ok: boolean, reason?: string): void => {
    if (finished) return;
    finished = true;
    settle(ok, reason);
  };
  const check = (): void => {
    if (sealed && outstanding === 0) finish(false, lastReason ?? 'no session took the message');
  };
  return {
    copy: () => {
      outstanding++;
      return {
        ...message,
        onSettled: (ok: boolean, reason?: string) => {
          outstanding--;
          if (ok) finish(true);
          else {
            lastReason = reason;
            check();
          }
        },
      };
    },
    notTaken: () => {
      outstanding--;
    },
    done: () => {
      sealed = true;
      // Nobody took it: the caller sees delivered 0 and keeps the message, so it is not settled here.
      if (outstanding === 0 && lastReason !== undefined) check();
    },
  };
}
