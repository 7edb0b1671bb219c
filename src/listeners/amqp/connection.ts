/**
 * One AMQP 1.0 connection: its checked byte stream, SASL capture, admission
 * at open, session and link caps, and the handlers for each rhea event. The
 * message path itself is in on-message.ts.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { AclAction, Identity, Source, TlsInfo } from '../../envelope/index.js';
import { newId } from '../../envelope/index.js';
import type { Admission } from '../listener.js';
import { clientInfo, identityOf } from './admission.js';
import type { AmqpSaslMechanism } from '../../config/types.js';
import type { AmqpDeviceClient } from './device-clients.js';
import type { FramingViolation } from './frame-scanner.js';
import { SocketShim, tlsInfo } from './socket-shim.js';
import { conditionForRheaError, describe } from './rhea-errors.js';
import { saslMechanisms, type SaslResult } from './sasl.js';
import { InboundLink } from './inbound-link.js';
import { deferIdleWhileNotReading, type IdleClock } from './idle-timeout.js';
import { onMessage } from './on-message.js';
import type { LimitKeys } from '../../guard/limiter.js';
import type { ConnectionDeps as SharedDeps, MessagePathConnection } from './connection-view.js';
import type { RheaConnection, RheaContext, RheaLink, RheaOutgoingDelivery, RheaReceiver, RheaSender, RheaSession } from './rhea-types.js';
import { scoredNames } from '../../guard/scoring.js';

/** The shared listener state an AmqpConnection is given. */
export type ConnectionDeps = SharedDeps<AmqpConnection>;

let seq = 0;

export class AmqpConnection implements MessagePathConnection {
  readonly id = `amqp-${++seq}`;
  readonly rhea: RheaConnection;
  readonly shim: SocketShim;
  readonly remoteAddress: string;
  readonly remotePort: number | undefined;
  readonly tls: TlsInfo | undefined;
  // Who the peer is: set by its open frame and by admission, read through the getters below.
  private logger: Logger;
  private peerId = '';
  private peerIdentity: Identity | undefined;
  private sharedSource: Source | undefined;
  private isAdmitted = false;
  private deviceClient: AmqpDeviceClient | undefined;
  private readonly receivers = new Map<RheaReceiver, InboundLink>();
  private rateKeys: LimitKeys | undefined;
  private readonly senders = new Map<RheaSender, string>();
  private readonly sessions = new Map<RheaSession, Set<RheaLink>>();
  private readonly sasl: SaslResult = {};
  private closing = false;
  private gone = false;
  /** The socket is paused while admission runs: the idle time-out does not count then. */
  private admitting = false;
  private readonly idleClock: IdleClock;
  /** Settlements waiting for the end of this turn of the event loop. */
  private settlements: Array<() => void> = [];
  private readonly runSettlements = (): void => {
    const batch = this.settlements;
    this.settlements = [];
    for (const fn of batch) fn();
  };

  constructor(
    socket: Socket | TLSSocket,
    readonly deps: ConnectionDeps,
  ) {
    const { ctx, options, container } = deps;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort;
    this.tls = tlsInfo(socket);
    this.logger = ctx.logger.child({ conn: this.id, remote: `${this.remoteAddress}:${this.remotePort ?? ''}` });
    this.shim = new SocketShim(socket, deps.maxFrameBytes, (v) => this.onViolation(v));
    // rhea reads the mechanisms from its container when it accepts a socket; each connection gets its own table.
    container.sasl_server_mechanisms = saslMechanisms(offeredMechanisms(ctx.config, options.saslMechanisms), this.sasl, this.tls?.peerVerified === true);
    this.rhea = container.create_connection({
      id: this.id,
      container_id: `thinggate/${ctx.config.name}`,
      max_frame_size: deps.maxFrameBytes,
      channel_max: options.maxSessionsPerConnection - 1,
      idle_time_out: options.idleTimeoutMs > 0 ? options.idleTimeoutMs : undefined,
      properties: { product: 'thinggate' },
    });
    this.bind();
    this.idleClock = deferIdleWhileNotReading(this.rhea, options.idleTimeoutMs, () => this.admitting);
    this.rhea.accept(this.shim);
    // rhea's own 'data' listener runs first; this one checks what rhea buffered from the chunk.
    this.shim.on('data', () => this.checkIncomplete());
    // rhea reports 'disconnected' only for connections not cleanly closed; the socket always says 'close'.
    socket.on('close', () => this.onDisconnected());
    // guard.slowPeers: a frame or a multi-frame delivery dripping in, or output the peer does not read.
    const unwatch = deps.ctx.guard.watchPeer({
      listener: ctx.config.name,
      remoteAddress: this.remoteAddress,
      clientId: () => this.clientId,
      bytesIn: () => socket.bytesRead,
      receiving: () => !this.admitting && !socket.isPaused() && (this.shim.midFrame || [...this.receivers.values()].some((l) => l.incompleteBytes() > 0)),
      outboundBytes: () => socket.writableLength,
      close: () => this.shim.destroy(),
    });
    socket.once('close', unwatch);
  }

  private bind(): void {
    const c = this.rhea;
    c.on('connection_open', () => this.onOpen());
    c.on('connection_error', (x: RheaContext) => this.log.debug({ error: describe(x.error ?? c) }, 'peer closed the connection with an error'));
    c.on('connection_close', () => this.log.debug('peer closed the connection'));
    c.on('session_open', (x: RheaContext) => x.session && this.onSessionOpen(x.session));
    c.on('session_close', (x: RheaContext) => x.session && this.onSessionClose(x.session));
    c.on('session_error', () => undefined);
    c.on('receiver_open', (x: RheaContext) => x.receiver && x.session && this.onReceiverOpen(x.receiver, x.session));
    c.on('sender_open', (x: RheaContext) => x.sender && x.session && this.onSenderOpen(x.sender, x.session));
    c.on('receiver_close', (x: RheaContext) => x.receiver && this.dropReceiver(x.receiver));
    c.on('sender_close', (x: RheaContext) => x.sender && this.dropSender(x.sender));
    c.on('receiver_error', () => undefined);
    c.on('sender_error', () => undefined);
    c.on('message', (x: RheaContext) => onMessage(this, x));
    // Outcomes of what we sent to the device (southbound); rhea raises them on the connection too.
    for (const outcome of ['accepted', 'rejected', 'released', 'modified'] as const) {
      c.on(outcome, (x: RheaContext) => this.client?.settled(x.sender, x.delivery as unknown as RheaOutgoingDelivery | undefined, outcome));
    }
    c.on('error', (e: unknown) => this.onRheaError(e));
    c.on('protocol_error', (e: unknown) => this.onRheaError(e));
    c.on('disconnected', () => this.onDisconnected());
  }

  get paused(): boolean {
    return !this.isAdmitted || this.closing || this.deps.isDraining();
  }

  get log(): Logger {
    return this.logger;
  }

  /** The open frame's container-id (the connection id when it had none); empty before open. */
  get clientId(): string {
    return this.peerId;
  }

  get identity(): Identity | undefined {
    return this.peerIdentity;
  }

  /** The source every envelope of this connection shares, once admitted (frozen: the ACL caches its decisions on it). */
  get source(): Source | undefined {
    return this.sharedSource;
  }

  get admitted(): boolean {
    return this.isAdmitted;
  }

  get client(): AmqpDeviceClient | undefined {
    return this.deviceClient;
  }

  /** Rate-limit bucket keys, once admitted. */
  get limitKeys(): LimitKeys | undefined {
    return this.rateKeys;
  }

  inboundLink(receiver: RheaReceiver): InboundLink | undefined {
    return this.receivers.get(receiver);
  }

  /** Open received (after SASL, when used): the container-id is known, so admission runs now. */
  private onOpen(): void {
    this.deps.onOpen(this.shim.socket);
    const open = this.rhea.remote.open ?? {};
    this.peerId = typeof open.container_id === 'string' && open.container_id.length > 0 ? open.container_id : this.id;
    this.logger = this.logger.child({ clientId: this.peerId });
    const guard = this.deps.ctx.guard;
    const certFingerprint = this.tls?.peer?.fingerprint256;
    if (
      guard.refuseClient(this.deps.ctx.config.name, { remoteAddress: this.remoteAddress, clientId: this.clientId, ...(certFingerprint && { certFingerprint }) })
    ) {
      // Refused as an authentication failure is: open, then close with the error (AMQP 1.0 §2.4.1).
      this.closeWithError('amqp:unauthorized-access', 'banned');
      return;
    }
    // guard.overload: refused as a resource limit (AMQP 1.0 §2.8.15), after our open (§2.4.1).
    if (guard.refuseOverloaded(this.deps.ctx.config.name)) {
      this.closeWithError('amqp:resource-limit-exceeded', 'server busy');
      return;
    }
    // No more frames are read until admission decides; links attached meanwhile get no credit.
    this.admitting = true;
    this.shim.socket.pause();
    const info = clientInfo(this.deps.ctx.config.name, this.clientId, this, this.sasl);
    this.deps.ctx.pipeline.admit(info).then(
      (a) => this.onAdmission(a),
      () => this.onAdmission({ ok: false, status: 503, reason: 'admission failed' }),
    );
  }

  private onAdmission(a: Admission): void {
    this.admitting = false;
    this.sasl.password = undefined;
    if (this.gone || this.closing) return;
    const { ctx, metrics } = this.deps;
    if (!a.ok) {
      metrics.connectionsTotal.inc({ listener: ctx.config.name, result: a.status === 503 ? 'unavailable' : 'refused' });
      ctx.guard.report({
        kind: 'auth-failure',
        listener: ctx.config.name,
        remoteAddress: this.remoteAddress,
        clientId: this.clientId,
        ...scoredNames(this.tls),
        clause: 'AMQP-1.0-2.4.1',
        detail: `${this.sasl.mechanism ?? 'no SASL'}${this.sasl.username !== undefined ? ` user '${this.sasl.username}'` : ''}: ${a.reason}`,
      });
      // A refused connection gets open followed at once by close with an error (AMQP 1.0 §2.4.1).
      this.closeWithError(a.status === 503 ? 'amqp:internal-error' : 'amqp:unauthorized-access', a.reason);
      return;
    }
    this.peerIdentity = identityOf(a);
    const principal = this.identity?.principal ?? this.sasl.username;
    if (principal !== undefined && ctx.guard.refusePrincipal(ctx.config.name, principal, { remoteAddress: this.remoteAddress, clientId: this.clientId })) {
      this.closeWithError('amqp:unauthorized-access', 'banned');
      return;
    }
    this.sharedSource = Object.freeze({
      clientId: this.clientId,
      remoteAddress: this.remoteAddress,
      ...(this.identity !== undefined && { identity: this.identity }),
      ...(this.remotePort !== undefined && { remotePort: this.remotePort }),
      ...(this.tls !== undefined && { tls: this.tls }),
    });
    this.isAdmitted = true;
    this.rateKeys = this.deps.limiter.keys(this.remoteAddress, this.clientId, this.identity?.principal);
    metrics.connectionsTotal.inc({ listener: ctx.config.name, result: 'accepted' });
    const client = this.deps.clients.acquire(this.clientId, this.identity?.principal);
    this.deviceClient = client;
    // Links attached before admission are authorized now.
    for (const [s, address] of [...this.senders]) {
      // A dynamic source is a fresh node of this connection's own (AMQP 1.0 §3.5.3): nothing to authorize.
      if (s.remote.attach?.source?.dynamic || this.linkAllowed(s, 'receive', address)) client.addSender(s, address);
    }
    for (const [r, l] of [...this.receivers]) {
      const target = r.remote.attach?.target?.address;
      if (typeof target === 'string' && !this.linkAllowed(r, 'publish', target)) continue;
      l.topUp(this.paused);
    }
    this.log.debug({ mechanism: this.sasl.mechanism ?? 'none', user: this.sasl.username, identity: this.identity?.principal }, 'connection admitted');
    this.shim.socket.resume();
    this.idleClock.restart();
  }

  private onSessionOpen(session: RheaSession): void {
    if (this.closing) return;
    if (this.sessions.size >= this.deps.options.maxSessionsPerConnection) {
      this.flood(`more than ${this.deps.options.maxSessionsPerConnection} sessions`, 'AMQP-1.0-2.7.1');
      return;
    }
    this.sessions.set(session, new Set());
    // handle-max caps the links a session may attach (AMQP 1.0 §2.7.2); sent with our begin on the next tick.
    session.local.begin.handle_max = this.deps.options.maxLinksPerSession - 1;
  }

  private onSessionClose(session: RheaSession): void {
    const links = this.sessions.get(session);
    this.sessions.delete(session);
    if (!links) return;
    for (const l of links) {
      if (this.receivers.has(l as RheaReceiver)) this.dropReceiver(l as RheaReceiver);
      else this.dropSender(l as RheaSender);
    }
  }

  /** Counts a new link on its session; false (and the connection closing) beyond the cap. */
  private addLink(session: RheaSession, link: RheaLink): boolean {
    const links = this.sessions.get(session);
    if (!links || this.closing) return false;
    if (links.size >= this.deps.options.maxLinksPerSession) {
      this.flood(`more than ${this.deps.options.maxLinksPerSession} links on one session`, 'AMQP-1.0-2.7.2');
      return false;
    }
    // guard.limits links: the attach is answered and the link detached at once (AMQP 1.0 §2.6.3) with the error.
    const t = this.deps.limiter.admit(this.limitKeys ?? this.deps.limiter.keys(this.remoteAddress, this.clientId), 'links');
    if (t?.enforced) {
      link.close({ condition: 'amqp:resource-limit-exceeded', description: `link attach rate too high, retry in ${t.retryAfterMs} ms` });
      return false;
    }
    links.add(link);
    return true;
  }

  /** A device sender link: we receive on it. Its target address is the envelope address. */
  private onReceiverOpen(receiver: RheaReceiver, session: RheaSession): void {
    if (!this.addLink(session, receiver)) return;
    const remote = receiver.remote.attach ?? {};
    const address = remote.target?.address;
    receiver.set_target(typeof address === 'string' ? { address } : {});
    receiver.set_source({ address: remote.source?.address ?? null });
    receiver.local.attach.rcv_settle_mode = 0; // settle first (AMQP 1.0 §3.8.3); exactly-once is not offered
    receiver.local.attach.snd_settle_mode = remote.snd_settle_mode ?? 2;
    receiver.local.attach.max_message_size = this.deps.options.maxMessageBytes;
    const link = new InboundLink(receiver, {
      maxInflight: this.deps.ctx.config.limits.maxInflight,
      unavailableOutcome: this.deps.options.unavailableOutcome,
      unavailableBackoffMs: this.deps.options.unavailableBackoffMs,
      onInflight: this.deps.onInflight,
    });
    this.receivers.set(receiver, link);
    if (this.admitted && typeof address === 'string' && !this.linkAllowed(receiver, 'publish', address)) return;
    link.topUp(this.paused);
  }

  /** The ACL at attach (docs/security.md): a denied link is detached with amqp:unauthorized-access and forgotten. */
  private linkAllowed(link: RheaSender | RheaReceiver, action: AclAction, address: string): boolean {
    if (this.deps.ctx.pipeline.authorize(this.deps.ctx.config.name, this.source!, action, address)) return true;
    link.close({ condition: 'amqp:unauthorized-access', description: `not authorized to ${action} '${address}'` });
    if (this.senders.has(link as RheaSender)) this.dropSender(link as RheaSender);
    else this.dropReceiver(link as RheaReceiver);
    return false;
  }

  /** A device receiver link: we send on it. Its source address is a subscription and a reply-to address. */
  private onSenderOpen(sender: RheaSender, session: RheaSession): void {
    if (!this.addLink(session, sender)) return;
    const remote = sender.remote.attach ?? {};
    let address = remote.source?.address ?? undefined;
    if (remote.source?.dynamic) {
      // A dynamic source gets a fresh node address (AMQP 1.0 §3.5.3), usable as reply-to.
      address = `$reply/${newId()}`;
      sender.set_source({ address, dynamic: true });
    } else {
      sender.set_source({ address: address ?? null });
    }
    sender.set_target({ address: remote.target?.address ?? null });
    sender.local.attach.snd_settle_mode = remote.snd_settle_mode ?? 2;
    if (!address) {
      sender.close({ condition: 'amqp:invalid-field', description: 'a receiving link needs a source address' });
      return;
    }
    this.senders.set(sender, address);
    if (this.admitted && (remote.source?.dynamic || this.linkAllowed(sender, 'receive', address))) this.client?.addSender(sender, address);
  }

  private dropReceiver(receiver: RheaReceiver): void {
    const l = this.receivers.get(receiver);
    if (!l) return;
    l.close();
    this.receivers.delete(receiver);
    this.sessions.get(receiver.session)?.delete(receiver);
  }

  private dropSender(sender: RheaSender): void {
    if (!this.senders.delete(sender)) return;
    this.client?.removeSender(sender);
    this.sessions.get(sender.session)?.delete(sender);
  }

  /**
   * Runs `fn` (a settlement, its reply and fresh credit) once the current
   * I/O phase is over. Outcomes of back-end responses read in the same phase
   * are then settled together: rhea writes consecutive equal dispositions as
   * one ranged disposition frame (AMQP 1.0 §2.7.6), and the connection sees
   * one socket write instead of one per message.
   */
  defer(fn: () => void): void {
    if (this.settlements.length === 0) setImmediate(this.runSettlements);
    this.settlements.push(fn);
  }

  /** Multi-frame deliveries are held by rhea until complete; cap them at maxMessageBytes (AMQP 1.0 §2.7.3). */
  private checkIncomplete(): void {
    const max = this.deps.options.maxMessageBytes;
    for (const l of this.receivers.values()) {
      const bytes = l.incompleteBytes();
      if (bytes <= max) continue;
      if (l.markOversize()) {
        this.report('oversize', 'AMQP-1.0-2.7.3', `message of more than ${max} bytes in progress`);
        this.deps.metrics.closes.inc({ listener: this.deps.ctx.config.name, condition: 'amqp:link:message-size-exceeded' });
        l.receiver.close({ condition: 'amqp:link:message-size-exceeded', description: `messages are limited to ${max} bytes` });
      } else if (bytes > 2 * max) {
        // The peer kept sending after the detach: stop reading from it altogether.
        this.closeWithError('amqp:resource-limit-exceeded', 'message size limit ignored');
      }
    }
  }

  private flood(detail: string, clause: string): void {
    if (this.closing) return;
    this.report('flood', clause, detail);
    this.closeWithError('amqp:resource-limit-exceeded', detail);
  }

  private onViolation(v: FramingViolation): void {
    this.report(v.kind === 'oversize' ? 'oversize' : 'malformed-packet', v.clause, v.detail);
    if (v.kind === 'bad-header') {
      // Answer with the header we do speak, then close (AMQP 1.0 §2.2).
      const sasl = this.shim.protocolLayer !== 'amqp';
      this.shim.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, sasl ? 3 : 0, 1, 0, 0]));
      this.closeWithError('amqp:connection:framing-error', v.detail);
      return;
    }
    this.closeWithError(v.kind === 'decode' ? 'amqp:decode-error' : 'amqp:connection:framing-error', v.detail);
  }

  /** rhea threw while decoding or applying a frame; it ends the socket itself after this returns. */
  private onRheaError(e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.shim.gate();
    if (this.closing) return;
    this.report('malformed-packet', 'AMQP-1.0-2.3', message);
    this.closeWithError(conditionForRheaError(e), message.slice(0, 200));
  }

  /**
   * Closes the connection with an error condition (AMQP 1.0 §2.8.14). A close
   * frame is only sent once the peer's open arrived (§2.4.1); before that the
   * socket is ended.
   */
  closeWithError(condition: string, description: string): void {
    if (this.closing) return;
    this.closing = true;
    this.deps.metrics.closes.inc({ listener: this.deps.ctx.config.name, condition });
    this.log.debug({ condition, description }, 'closing connection');
    if (this.rhea.is_remote_open() && !this.rhea.is_closed()) this.rhea.close({ condition, description });
    this.shim.end();
  }

  /** Closes at once (listener stop without drain). */
  destroy(): void {
    this.closing = true;
    this.shim.destroy();
  }

  get isClosing(): boolean {
    return this.closing;
  }

  report(kind: string, clause: string, detail: string): void {
    this.deps.counters.protocolError();
    this.deps.ctx.guard.report({
      kind,
      listener: this.deps.ctx.config.name,
      remoteAddress: this.remoteAddress,
      ...(this.clientId && { clientId: this.clientId }),
      ...scoredNames(this.tls, this.identity),
      clause,
      detail,
    });
  }

  private onDisconnected(): void {
    if (this.gone) return;
    this.gone = true;
    this.closing = true;
    for (const l of this.receivers.values()) l.close();
    this.receivers.clear();
    for (const s of this.senders.keys()) this.client?.removeSender(s);
    this.senders.clear();
    if (this.deviceClient) this.deps.clients.release(this.deviceClient);
    this.deviceClient = undefined;
    this.sasl.password = undefined;
    this.log.debug('disconnected');
    this.deps.onClosed(this);
  }
}

/** ANONYMOUS is offered only where the listener admits anonymous clients; EXTERNAL where an x509 step can check it (docs/security.md). */
function offeredMechanisms(
  config: { auth: readonly { type: string }[]; anonymous?: boolean },
  configured: readonly AmqpSaslMechanism[],
): readonly AmqpSaslMechanism[] {
  const anonymous = config.anonymous ?? config.auth.length === 0;
  const out = anonymous ? [...configured] : configured.filter((m) => m !== 'ANONYMOUS');
  if (config.auth.some((a) => a.type === 'x509') && !out.includes('EXTERNAL')) out.unshift('EXTERNAL');
  return out;
}
