/**
 * Observe (RFC 7641) on device-facing resources: how southbound messages
 * reach CoAP devices. A GET with Observe=0 registers the source as an
 * observer of the address; the source's session subscribes to that address
 * (MQTT filter semantics, so `devices/+/cmd` observes a pattern) in the
 * device registry. Every message the registry delivers becomes a
 * notification with an increasing Observe number, CON for QoS ≥ 1 and NON
 * for QoS 0. Deregistration: GET with Observe=1, a RST to a notification, or
 * a CON notification never acknowledged (RFC 7641 §3.6, §4.5).
 */
import type { DeviceMessage, DeviceRegistry, QoS, Subscriber } from '../../devices/registry.js';
import { matchesFilter } from '../../envelope/index.js';
import type { Peer } from './peers.js';

export interface Observation {
  readonly session: CoapSession;
  readonly address: string;
  /** The token of the latest registration (a re-registration replaces it, RFC 7641 §4.1). */
  token: Buffer;
  accept: number | undefined;
  /** Size of the registering request: the amplification budget toward an unverified source. */
  requestBytes: number;
  /** Last Observe number used (24 bits, RFC 7641 §4.4). */
  seq: number;
  /** A CON notification awaits its ACK; later ones queue behind it. */
  inflight: boolean;
  /** The message of that CON notification, told its outcome on ACK, RST or timeout (DeviceMessage.onSettled). */
  current?: DeviceMessage | undefined;
  /** Message id of the last notification sent (a RST names it). */
  lastMessageId: number;
  /** NON notifications since the last CON (RFC 7641 §4.5: a CON at least every so often checks the observer is alive). */
  nonSinceCon: number;
  readonly queue: Array<{ message: DeviceMessage; qos: QoS }>;
}

/** What the listener does for the observe layer: send one notification (CON or NON). */
export interface NotificationSink {
  notify(obs: Observation, message: DeviceMessage, confirmable: boolean): void;
}

/** A NON notification is sent as CON after this many NON ones, so a vanished observer is noticed. */
const CON_EVERY = 20;

/** One source's observations, registered with the device registry as one Subscriber. */
export class CoapSession implements Subscriber {
  readonly observations = new Map<string, Observation>();

  constructor(
    readonly clientId: string,
    readonly listener: string,
    readonly peer: Peer,
    private readonly owner: ObserveManager,
  ) {}

  deliver(message: DeviceMessage, qos: QoS): boolean {
    let taken = false;
    for (const obs of this.observations.values()) {
      if (obs.address === message.topic || matchesFilter(obs.address, message.topic)) {
        if (this.owner.enqueue(obs, message, qos)) taken = true;
      }
    }
    return taken;
  }
}

export class ObserveManager {
  private readonly sessions = new Map<string, CoapSession>();
  private readonly byClientId = new Map<string, CoapSession>();
  sink?: NotificationSink;
  notifications = 0;
  /** Notifications lost because their observation ended before they were sent. */
  discarded = 0;

  constructor(
    private readonly listener: string,
    private readonly devices: DeviceRegistry,
    private readonly limits: { readonly maxPerSource: number; readonly queue: number },
  ) {}

  /** Registers (or refreshes, RFC 7641 §4.1) an observation; undefined when the source holds too many. */
  register(peer: Peer, clientId: string, address: string, token: Buffer, accept: number | undefined, requestBytes: number): Observation | undefined {
    let s = this.sessions.get(peer.key);
    if (!s) {
      s = new CoapSession(clientId, this.listener, peer, this);
      this.sessions.set(peer.key, s);
      this.byClientId.set(clientId, s);
      const replaced = this.devices.connect(s);
      if (replaced && replaced instanceof CoapSession) this.drop(replaced);
      peer.holds++;
    }
    const existing = s.observations.get(address);
    if (existing) {
      existing.token = Buffer.from(token);
      existing.accept = accept;
      existing.requestBytes = requestBytes;
      return existing;
    }
    if (s.observations.size >= this.limits.maxPerSource) return undefined;
    const obs: Observation = {
      session: s,
      address,
      token: Buffer.from(token),
      accept,
      requestBytes,
      seq: 1,
      inflight: false,
      lastMessageId: -1,
      nonSinceCon: 0,
      queue: [],
    };
    s.observations.set(address, obs);
    this.devices.subscribe(s, address, { qos: 1 });
    return obs;
  }

  /** Removes the observation of `address` by a source; true when there was one. */
  deregister(peer: Peer, address: string): boolean {
    const s = this.sessions.get(peer.key);
    const obs = s?.observations.get(address);
    if (!s || !obs) return false;
    this.remove(obs);
    return true;
  }

  /** A RST from a source: ends the observation whose last notification it names. */
  onReset(peer: Peer, messageId: number): boolean {
    const s = this.sessions.get(peer.key);
    if (!s) return false;
    for (const obs of s.observations.values()) {
      if (obs.lastMessageId === messageId) {
        this.remove(obs);
        return true;
      }
    }
    return false;
  }

  /** The session of a client id (Listener.deliver). */
  session(clientId: string): CoapSession | undefined {
    return this.byClientId.get(clientId);
  }

  get count(): number {
    let n = 0;
    for (const s of this.sessions.values()) n += s.observations.size;
    return n;
  }

  /** Queues or sends one message to an observation; false when its queue is full. */
  enqueue(obs: Observation, message: DeviceMessage, qos: QoS): boolean {
    if (obs.inflight) {
      if (obs.queue.length >= this.limits.queue) return false;
      obs.queue.push({ message, qos });
      return true;
    }
    this.send(obs, message, qos);
    return true;
  }

  /** The outcome of a CON notification: on ACK the next queued one goes; RST or timeout ends the observation. */
  settled(obs: Observation, result: 'ack' | 'rst' | 'timeout' | 'cancelled'): void {
    obs.inflight = false;
    const sent = obs.current;
    obs.current = undefined;
    // The device's ACK to a CON notification is its acknowledgement (RFC 7252 §4.2).
    sent?.onSettled?.(
      result === 'ack',
      result === 'ack' ? undefined : `notification ${result === 'rst' ? 'reset' : result === 'timeout' ? 'not acknowledged' : 'cancelled'}`,
    );
    if (result !== 'ack') {
      if (obs.session.observations.get(obs.address) === obs) this.remove(obs);
      return;
    }
    const next = obs.queue.shift();
    if (next) this.send(obs, next.message, next.qos);
  }

  /** Ends the observations of one source (its DTLS association ended). */
  forget(peerKey: string): void {
    const s = this.sessions.get(peerKey);
    if (s) this.drop(s);
  }

  /** Ends every observation (listener stopping). */
  clear(): void {
    for (const s of [...this.sessions.values()]) this.drop(s);
  }

  private send(obs: Observation, message: DeviceMessage, qos: QoS): void {
    if (message.expiresAt !== undefined && message.expiresAt <= Date.now()) {
      this.discarded++;
      message.onSettled?.(false, 'expired');
      const next = obs.queue.shift();
      if (next) this.send(obs, next.message, next.qos);
      return;
    }
    const confirmable = qos > 0 || ++obs.nonSinceCon >= CON_EVERY;
    if (confirmable) {
      obs.nonSinceCon = 0;
      obs.inflight = true;
      obs.current = message;
    }
    obs.seq = (obs.seq + 1) & 0xffffff;
    this.notifications++;
    this.sink?.notify(obs, message, confirmable);
    if (!confirmable) message.onSettled?.(true); // NON: sent is all there is
  }

  private remove(obs: Observation): void {
    const s = obs.session;
    s.observations.delete(obs.address);
    this.abandon(obs);
    this.devices.unsubscribe(s, obs.address);
    if (s.observations.size === 0) this.drop(s);
  }

  /** An observation ends: its queued messages and the one awaiting an ACK will not be delivered by it. */
  private abandon(obs: Observation): void {
    this.discarded += obs.queue.length;
    for (const q of obs.queue) q.message.onSettled?.(false, 'the observation ended');
    obs.queue.length = 0;
    const sent = obs.current;
    obs.current = undefined;
    sent?.onSettled?.(false, 'the observation ended before the notification was acknowledged');
  }

  private drop(s: CoapSession): void {
    for (const obs of s.observations.values()) this.abandon(obs);
    s.observations.clear();
    this.devices.disconnect(s);
    if (this.sessions.get(s.peer.key) === s) {
      this.sessions.delete(s.peer.key);
      s.peer.holds--;
    }
    if (this.byClientId.get(s.clientId) === s) this.byClientId.delete(s.clientId);
  }
}
