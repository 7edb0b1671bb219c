/**
 * One MQTT connection (TCP, TLS or WebSocket — all arrive as a Duplex). It
 * owns the framer that cuts the byte stream into whole packets (framing.ts),
 * decodes PUBLISH itself (decode-publish.ts) and every other packet with one
 * mqtt-packet parser, and owns the keepalive timer, flow control and
 * closing (writes: writer.ts). The deadline for the first CONNECT is the
 * listener's (accept-guard.ts), which is told when CONNECT arrives. Packet
 * semantics live in handlers/, one file per packet type.
 */
import type { Duplex } from 'node:stream';
import mqttPacket, { type Packet, type Parser } from 'mqtt-packet';
import { PacketWriter } from './writer.js';
import type { Logger } from 'pino';
import type { Envelope, Identity, Outcome, Source } from '../../envelope/index.js';
import type { DeviceMessage, QoS } from '../../devices/registry.js';
import { Framer } from './framing.js';
import { decodePublish } from './decode-publish.js';
import { MqttProtocolViolation, malformed, receiveMaximumExceeded } from './violation.js';
import { RC } from './reason-codes.js';
import { Outbound } from './outbound.js';
import { InboundQos } from './inbound.js';
import { dispatchPacket } from './handlers/index.js';
import { validatePacket } from './validate.js';
import { connectLevel } from './validate-connect.js';
import { heldWill, storedWill, willOnClose } from './will.js';
import { park, takeSession } from './persistence.js';
import { SessionJournal } from './journal.js';
import type { ConnectionState, ListenerShared as SharedState, MqttSession, RemoteInfo, Will } from './session.js';
import type { LimitKeys } from '../../guard/limiter.js';
import { scoredNames } from '../../guard/scoring.js';

export { QOS2_DISPATCHING, QOS2_RECEIVED, type ConnectionState, type RemoteInfo } from './session.js';
/** The listener state that MqttConnection's are given. */
export type ListenerShared = SharedState<MqttConnection>;

/** MQTT Control Packet type of PUBLISH (MQTT 5.0 §2.1.2). */
const PUBLISH = 3;

/** Grace period for a peer to read a final DISCONNECT/CONNACK before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

export class MqttConnection implements MqttSession {
  clientId = '';
  readonly listener: string;
  /** Protocol level from CONNECT: 4 (3.1.1) or 5; 0 before CONNECT. */
  version = 0;
  state: ConnectionState = 'new';
  log: Logger;
  source: Source;
  identity: Identity | undefined;
  will: Will | undefined;
  /** False once the client ended the session with DISCONNECT 0x00 [MQTT-3.1.2-10]. */
  sendWill = true;
  /** CONNACK has been sent (errors after it are DISCONNECTs, before it CONNACKs). */
  connacked = false;
  /** The v5 Session Expiry Interval the client asked for in CONNECT (0 when absent), for DISCONNECT's rule (§3.14.2.2.2). */
  connectSessionExpiry = 0;
  /** Seconds the session outlives this connection (0: it ends with it); see persistence.ts. */
  private sessionExpiry = 0;
  /** The session has been parked or ended (once per connection). */
  private sessionEnded = false;
  /** The stored session (if any) was taken over by this connection: it is this connection's to park. */
  private sessionOpened = false;
  /** Writes the session through to the store while the connection lives (persistent sessions; journal.ts). */
  private journal: SessionJournal | undefined;

  // Limits the client announced (v5) and negotiated values.
  keepaliveMs = 0;
  readonly topicAliases = new Map<number, string>();

  // Inbound flow.
  /** Messages handed to the pipeline whose outcome has not arrived. */
  pending = 0;
  /** Inbound QoS 1/2 accounting (Receive Maximum quota, QoS 2 exchanges). */
  readonly inbound: InboundQos;
  /** Packets that arrived while CONNECT was being admitted; replayed after CONNACK. */
  backlog: Packet[] | undefined;
  /** Packets parsed while the in-flight limit was reached; replayed as outcomes arrive. */
  private held: Packet[] | undefined;

  readonly out: Outbound;
  readonly wire: PacketWriter;
  private readonly parser: Parser;
  private readonly frames: Framer;
  private lastRx = Date.now();
  /** Bytes received (guard.slowPeers). */
  private rxBytes = 0;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private paused = false;
  /** Rate-limit bucket keys, once CONNECT named the client (guard.limits). */
  private limitKeys: LimitKeys | undefined;
  /** Reading is paused until the rate limits' buckets are out of debt. */
  private throttledUntil = 0;
  private throttleTimer: NodeJS.Timeout | undefined;
  /** Set once the connection is being closed: nothing more is read or dispatched. */
  private closing = false;
  /** Aborted when the connection starts closing: no acknowledgement can follow (Envelope.signal). */
  private readonly closed = new AbortController();

  constructor(
    readonly shared: ListenerShared,
    readonly socket: Duplex,
    readonly remote: RemoteInfo,
  ) {
    this.listener = shared.name;
    this.log = shared.ctx.logger.child({ remote: `${remote.address}:${remote.port ?? 0}` });
    this.source = {
      clientId: '',
      remoteAddress: remote.address,
      ...(remote.port !== undefined && { remotePort: remote.port }),
      ...(remote.tls && { tls: remote.tls }),
    };
    this.frames = new Framer(shared.limits.maxPacketBytes);
    this.wire = new PacketWriter(socket, shared.metrics, shared.scheduleFlush, () => this.log);
    this.inbound = new InboundQos(shared.limits.maxInflight);
    this.out = new Outbound(this, Math.max(shared.limits.maxInflight * 4, 256, shared.options.sessions.maxQueuedMessages));
    this.parser = mqttPacket.parser({ protocolVersion: 4 });
    this.parser.on('packet', (p: Packet) => this.onPacket(p));
    this.parser.on('error', (err: Error) => this.onParseError(err));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: Error) => this.log.debug({ err: err.message }, 'socket error'));
    socket.on('close', () => this.onClose());
    socket.on('end', () => {
      this.wire.flushAcks();
      socket.end();
      // Nothing can be written after our end: messages still awaited can no longer be acknowledged.
      this.closed.abort();
    });
    shared.connections.add(this);
    shared.metrics.connections.inc();
    // guard.slowPeers: a packet dripping in while thinggate reads, or output the client does not read.
    const unwatch = shared.ctx.guard.watchPeer({
      listener: this.listener,
      remoteAddress: remote.address,
      clientId: () => this.clientId,
      bytesIn: () => this.rxBytes,
      receiving: () => this.frames.midPacket && !this.paused && !this.closing,
      outboundBytes: () => socket.writableLength,
      close: () => this.destroy(),
    });
    socket.once('close', unwatch);
  }

  // ---- reading ---------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastRx = Date.now();
    this.rxBytes += chunk.length;
    const problem = this.frames.push(chunk, this.onFrame);
    if (problem) {
      if (problem.kind === 'oversize') {
        this.fail(
          new MqttProtocolViolation(
            'oversize',
            RC.PACKET_TOO_LARGE,
            'MQTT-3.2.2-15',
            `packet of ${problem.size} bytes exceeds the maximum packet size ${this.shared.limits.maxPacketBytes}`,
          ),
        );
      } else {
        this.fail(malformed('MQTT-1.5.5-1', problem.detail));
      }
    }
  }

  /**
   * One whole packet. Once CONNECT has set the protocol level, PUBLISH is
   * decoded here (decode-publish.ts); every other packet goes to mqtt-packet,
   * one whole packet at a time, so packets are handled in arrival order.
   */
  private readonly onFrame = (frame: Buffer, bodyStart: number): boolean => {
    if (this.closing) return false;
    if (frame[0]! >> 4 === PUBLISH && this.version !== 0) {
      let packet: Packet;
      try {
        packet = decodePublish(frame, bodyStart, this.version === 5);
      } catch (err) {
        this.fail(err);
        return false;
      }
      this.onPacket(packet);
    } else {
      try {
        validatePacket(frame, bodyStart, this.version);
      } catch (err) {
        this.failValidation(err, frame, bodyStart);
        return false;
      }
      try {
        this.parser.parse(frame);
      } catch (err) {
        this.fail(malformed(undefined, `unparsable packet: ${(err as Error).message}`));
      }
    }
    return !this.closing;
  };

  private onParseError(err: Error): void {
    this.fail(malformed(undefined, `malformed packet: ${err.message}`));
  }

  /**
   * A packet the validation layer refused. Before CONNECT the client's
   * version comes from the refused CONNECT itself: a v5 client gets CONNACK
   * with the reason code, an unsupported level CONNACK 0x01 in the 3.1.1
   * format every version can read [MQTT-3.1.2-2].
   */
  private failValidation(err: unknown, frame: Buffer, bodyStart: number): void {
    if (this.version === 0 && err instanceof MqttProtocolViolation) {
      if (err.reasonCode === RC.UNSUPPORTED_PROTOCOL_VERSION) this.wire.write(UNSUPPORTED_LEVEL_CONNACK);
      else if (connectLevel(frame, bodyStart) === 5) {
        this.version = 5;
        this.wire.setVersion(5);
      }
    }
    this.fail(err);
  }

  private onPacket(packet: Packet): void {
    // The parser keeps emitting the rest of a chunk after a violation closed the connection.
    if (this.closing) return;
    this.shared.metrics.rx(packet.cmd);
    if (this.backlog !== undefined && packet.cmd !== 'connect') {
      this.backlog.push(packet);
      return;
    }
    this.handle(packet);
  }

  /** Dispatches a packet, or holds it while `limits.maxInflight` outcomes are awaited. */
  private handle(packet: Packet): void {
    if (this.held !== undefined && packet.cmd !== 'pingreq') {
      this.hold(packet);
      return;
    }
    try {
      dispatchPacket(this, packet);
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * Reading is paused at the in-flight limit or over a rate limit, but the
   * rest of the current read is already parsed: those packets wait here, in
   * order, so at most `maxInflight` messages are ever in the pipeline and a
   * throttled client's messages go on at its rate. A v5 client's QoS 1/2
   * PUBLISH is still checked against the Receive Maximum on arrival.
   */
  private hold(packet: Packet): void {
    if (packet.cmd === 'publish' && packet.qos > 0 && this.version === 5) {
      if (!this.inbound.hold()) {
        this.fail(receiveMaximumExceeded(this.shared.limits.maxInflight));
        return;
      }
    }
    this.held!.push(packet);
  }

  private releaseHeld(): void {
    const held = this.held!;
    const max = this.shared.limits.maxInflight;
    // A released message over its rate limit throttles again: the rest waits for the next refill.
    while (held.length > 0 && this.pending < max && !this.closing && this.throttleTimer === undefined) {
      const p = held.shift()!;
      if (p.cmd === 'publish' && p.qos > 0 && this.version === 5) this.inbound.unhold();
      try {
        dispatchPacket(this, p);
      } catch (err) {
        this.fail(err);
        return;
      }
    }
    if (held.length === 0 && this.pending < max) this.held = undefined;
  }

  /** Replays packets that arrived during admission. */
  flushBacklog(): void {
    const backlog = this.backlog;
    this.backlog = undefined;
    this.updateFlow();
    if (!backlog) return;
    for (const p of backlog) {
      if (this.closing) return;
      this.handle(p);
    }
  }

  // ---- session setup -----------------------------------------------------

  /** Called by the connect handler once the CONNECT is parsed. */
  beginConnect(version: number): void {
    // The deadline covers receiving the CONNECT; admission is bounded by its own (script) limits.
    this.shared.onConnect(this);
    this.version = version;
    this.wire.setVersion(version);
    this.state = 'connecting';
    this.backlog = [];
    this.updateFlow();
  }

  /** Called after CONNACK 0x00 has been written. */
  /** The admitted identity's principal (Subscriber): guards the client id against takeover by another principal. */
  get principal(): string | undefined {
    return this.identity?.principal;
  }

  established(clientId: string, identity: Identity | undefined): void {
    this.clientId = clientId;
    this.identity = identity;
    this.connacked = true;
    this.state = 'connected';
    this.source = Object.freeze({ ...this.source, clientId, ...(identity && { identity }) });
    this.limitKeys = this.shared.limiter.keys(this.remote.address, clientId, identity?.principal);
    this.log = this.log.child({ clientId });
    // While reading is still paused (admission backlog), resuming arms it.
    if (!this.paused) this.restartKeepalive();
    this.out.start();
  }

  // ---- session persistence (persistence.ts) -------------------------------

  /** How long the session outlives the connection, in seconds (CONNECT, or a v5 DISCONNECT §3.14.2.2.2). */
  setSessionExpiry(seconds: number): void {
    this.sessionExpiry = this.shared.options.sessions.enabled ? seconds : 0;
  }

  /**
   * Takes over the stored session of this client id: resumed (Clean Start 0;
   * true when there was one: Session Present) or discarded (Clean Start 1).
   */
  async openSession(resume: boolean): Promise<boolean> {
    const pending = await takeSession(this.shared.sessions, this.clientId, this, resume && this.shared.options.sessions.enabled);
    this.sessionOpened = true;
    if (pending !== undefined) this.out.restore(pending);
    this.holdSession();
    return pending !== undefined;
  }

  /** A persistent session is written through from now on (journal.ts). */
  private holdSession(): void {
    const cx = this.shared.sessions;
    if (this.sessionExpiry <= 0 || !SessionJournal.supported(cx)) return;
    const journal = new SessionJournal(cx, this.clientId, this, this.log);
    journal.start({
      clientId: this.clientId,
      expirySeconds: this.sessionExpiry,
      listener: this.listener,
      ...(this.principal !== undefined && { principal: this.principal }),
      ...(this.sendWill && { will: heldWill(this, this.sessionExpiry) }),
    });
    for (const [n, e] of this.out.owed()) journal.put(n, e);
    this.out.journal = journal;
    this.journal = journal;
  }

  /** SUBSCRIBE or UNSUBSCRIBE changed this connection's subscriptions. */
  subscriptionsChanged(): void {
    this.journal?.subscriptionsChanged();
  }

  /** Parks the session in the store (it outlives the connection) or ends it; once. `up`: CONNACK was sent (its Will may be due). */
  private endSession(up: boolean): void {
    if (this.sessionEnded) return;
    this.sessionEnded = true;
    // Also when closed between the session stage and CONNACK: a resumed session is not lost.
    const persistent = this.sessionOpened && this.sessionExpiry > 0;
    const pending = this.out.end(persistent);
    const held = this.journal !== undefined;
    this.journal?.stop();
    if (!pending) {
      // Held, then ended with its connection (a v5 DISCONNECT set its expiry to 0): the stored copy goes too.
      if (held)
        this.shared.sessions.store.take(this.clientId).catch((err: unknown) => this.log.warn({ err }, 'session store: the ended session could not be removed'));
      return;
    }
    void park(this.shared.sessions, {
      clientId: this.clientId,
      listener: this.listener,
      principal: this.principal,
      expirySeconds: this.sessionExpiry,
      pending,
      subscriber: this,
      ...(up && { will: storedWill(this, this.sessionExpiry) }),
    });
  }

  // ---- keepalive [MQTT-3.1.2-24] ------------------------------------------
  //
  // The clock runs only while thinggate reads the socket. While reading is
  // paused for back-pressure (or draining), the client's PINGREQs wait unread
  // in the socket: silence then is thinggate's doing, not a keepalive
  // violation. The timer is stopped on pause and restarted afresh on resume.

  /** One timer per connection, re-armed for the remaining time rather than per packet. */
  private armKeepalive(ms: number): void {
    this.keepaliveTimer = setTimeout(() => this.checkKeepalive(), ms);
  }

  /** A fresh keepalive period from now (after CONNACK, and whenever reading resumes). */
  private restartKeepalive(): void {
    this.suspendKeepalive();
    if (this.keepaliveMs <= 0 || this.state !== 'connected' || this.closing) return;
    this.lastRx = Date.now();
    this.armKeepalive(this.keepaliveMs * 1.5);
  }

  private suspendKeepalive(): void {
    clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }

  private checkKeepalive(): void {
    if (this.state === 'closed' || this.paused) return;
    const limit = this.keepaliveMs * 1.5;
    const idle = Date.now() - this.lastRx;
    if (idle >= limit) {
      this.fail(
        new MqttProtocolViolation(
          'keepalive-timeout',
          RC.KEEP_ALIVE_TIMEOUT,
          'MQTT-3.1.2-24',
          `nothing received for ${idle} ms (keepalive ${this.keepaliveMs / 1000} s)`,
        ),
      );
      return;
    }
    this.armKeepalive(limit - idle);
  }

  // ---- inbound flow ----------------------------------------------------------

  /** Carried by this connection's messages; aborted once none of their acknowledgements can be sent. */
  get closedSignal(): AbortSignal {
    return this.closed.signal;
  }

  /** Hands an envelope to the pipeline, counting it against the in-flight limit. */
  dispatch(env: Envelope): Promise<Outcome> {
    this.pending++;
    this.shared.messagesIn++;
    if (this.pending >= this.shared.limits.maxInflight) {
      this.held ??= [];
      this.updateFlow();
    }
    return this.shared.ctx.pipeline.handle(env);
  }

  admitPublish(qos: number, bytes: number): 'go' | 'refuse' | 'closed' {
    const limiter = this.shared.limiter;
    // guard.overload throttling publishers: reads stop for a while after each message.
    const overloadPause = limiter.overloadPauseMs();
    if (overloadPause > 0) this.throttle(overloadPause);
    const keys = this.limitKeys;
    if (!keys) return 'go';
    const { mqtt5, mqtt5DisconnectReasonCode } = limiter.mqtt5;
    // MQTT 5 can refuse a QoS 1/2 PUBLISH (PUBACK/PUBREC 0x97, §3.4.2.1) or end the connection; everything else is slowed by not reading.
    if (this.version === 5 && (mqtt5 === 'disconnect' || (mqtt5 === 'puback' && qos > 0))) {
      const t = limiter.admitMessage(keys, bytes);
      if (!t?.enforced) return 'go';
      if (mqtt5 === 'puback') return 'refuse';
      this.closeWith(mqtt5DisconnectReasonCode, `${t.resource} rate too high`);
      return 'closed';
    }
    const t = limiter.chargeMessage(keys, bytes);
    if (t?.enforced) {
      this.throttle(t.retryAfterMs);
      // The rest of the current read (up to 64 KiB: hundreds of small PUBLISHes) waits in `held` and is
      // released one message per refill, rather than dispatched at once in one burst that every other
      // client's messages then queue behind.
      this.held ??= [];
    }
    return 'go';
  }

  admitSubscription(): boolean {
    const t = this.limitKeys && this.shared.limiter.admit(this.limitKeys, 'subscriptions');
    return !t?.enforced;
  }

  /** Stops reading for `ms` (rate limits): the client's TCP window fills and it slows down; nothing is refused. */
  private throttle(ms: number): void {
    const until = Date.now() + ms;
    if (until <= this.throttledUntil) return;
    this.throttledUntil = until;
    clearTimeout(this.throttleTimer);
    this.throttleTimer = setTimeout(() => {
      this.throttleTimer = undefined;
      if (this.held !== undefined && !this.shared.draining && this.state !== 'closed') this.releaseHeld();
      this.updateFlow();
    }, ms);
    this.updateFlow();
  }

  /** Called once per outcome, after its acknowledgement was written: frees a slot and replays held packets. */
  settled(): void {
    this.pending--;
    if (this.held !== undefined && !this.shared.draining && this.state !== 'closed') this.releaseHeld();
    if (this.paused) this.updateFlow();
    if (this.pending === 0 && this.shared.draining) this.shared.onSettled();
  }

  /** Pauses reading while admission runs, while too many outcomes are awaited, or while draining. */
  updateFlow(): void {
    if (this.state === 'closed') return;
    const pause = this.backlog !== undefined || this.shared.draining || this.pending >= this.shared.limits.maxInflight || this.throttleTimer !== undefined;
    if (pause === this.paused) return;
    this.paused = pause;
    if (pause) {
      this.socket.pause();
      this.suspendKeepalive();
    } else {
      this.socket.resume();
      this.restartKeepalive();
    }
  }

  // ---- southbound ----------------------------------------------------------

  /** Subscriber: delivers a matched message at `qos`. */
  deliver(message: DeviceMessage, qos: QoS, subscriptionIds?: readonly number[]): boolean {
    // Before CONNACK the outbound side queues (a resumed session's messages go first).
    if (this.state === 'closed' || this.closing) return false;
    const ok = this.out.deliver(message, qos, subscriptionIds);
    if (ok) this.shared.messagesOut++;
    return ok;
  }

  // ---- closing ----------------------------------------------------------------

  /**
   * Closes after a failure. A protocol violation is reported as a security
   * event and answered with its reason code (v5: CONNACK before the session
   * is up, DISCONNECT after; v3.1.1: the connection is just closed).
   */
  fail(err: unknown): void {
    if (this.closing) return;
    if (err instanceof MqttProtocolViolation) {
      this.shared.protocolErrors++;
      this.shared.ctx.guard.report({
        kind: err.kind,
        listener: this.listener,
        remoteAddress: this.remote.address,
        ...(this.clientId && { clientId: this.clientId }),
        ...scoredNames(this.remote.tls, this.identity),
        ...(err.clause !== undefined && { clause: err.clause }),
        ...(this.version === 5 && { reasonCode: err.reasonCode }),
        detail: err.message,
      });
      this.closeWith(err.reasonCode, err.message);
      return;
    }
    this.log.error({ err }, 'connection failed unexpectedly');
    this.closeWith(RC.IMPLEMENTATION_SPECIFIC_ERROR, 'internal error');
  }

  /** Sends the v5 reason code (CONNACK or DISCONNECT) when the peer speaks v5, then closes. */
  closeWith(reasonCode: number, reason?: string): void {
    if (this.closing) return;
    if (this.version === 5) {
      const properties = reason !== undefined ? { reasonString: reason.slice(0, 256) } : undefined;
      const packet = this.connacked ? ({ cmd: 'disconnect', reasonCode } as const) : ({ cmd: 'connack', sessionPresent: false, reasonCode } as const);
      // Without the Reason String when it would exceed the client's Maximum Packet Size.
      if (!properties || !this.wire.send({ ...packet, properties })) this.wire.send(packet);
    }
    this.end();
  }

  /** Session takeover: another connection with this client id has been admitted [MQTT-3.1.4-3]. */
  takeOver(): void {
    if (this.closing) return;
    this.log.info('session taken over by a new connection');
    this.closeWith(RC.SESSION_TAKEN_OVER, 'session taken over');
    // Parked now, not when the socket closes: the new connection resumes it next (its Will is deleted [MQTT-3.1.3-9]).
    this.endSession(false);
  }

  /** Half-closes after flushing; destroys if the peer does not close in time. */
  end(): void {
    if (this.closing) return;
    this.stopReading();
    this.wire.flushAcks();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  destroy(): void {
    this.stopReading();
    this.socket.destroy();
  }

  private stopReading(): void {
    this.closing = true;
    this.closed.abort();
    this.socket.removeAllListeners('data');
    this.socket.pause();
  }

  private onClose(): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    this.closed.abort();
    clearTimeout(this.keepaliveTimer);
    this.endSession(wasConnected);
    clearTimeout(this.throttleTimer);
    this.shared.connections.delete(this);
    this.shared.metrics.connections.dec();
    // Registered from the takeover stage on (presence, then subscriptions); a no-op for a connection never registered.
    this.shared.ctx.devices.disconnect(this);
    this.log.debug({ pending: this.pending }, 'connection closed');
    // [MQTT-3.1.2-8]: the Will goes out when the connection closes without DISCONNECT 0x00 (v5: after its delay, will.ts).
    if (wasConnected && this.will && this.sendWill) willOnClose(this, this.will, this.sessionOpened ? this.sessionExpiry : 0);
    this.shared.onSettled();
  }
}

const UNSUPPORTED_LEVEL_CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x01]);
