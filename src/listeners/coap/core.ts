/**
 * The CoAP listener's shared state and its sending side: responses
 * (piggybacked, NON or separate CON) and notifications, each shaped by
 * shape.ts (Block2 slicing, amplification cap).
 */
import type { Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { coapFormatForMediaType } from '../../envelope/index.js';
import type { DeviceMessage } from '../../devices/registry.js';
import type { Guard, SecurityEvent } from '../../guard/guard.js';
import type { Counter } from '../../observability/metrics.js';
import type { CoapListenerOptions } from '../../config/types.js';
import type { Pipeline } from '../listener.js';
import { TYPE_ACK, TYPE_CON, TYPE_NON, emptyMessage, serializeMessage, type CoapOption } from './codec.js';
import { OPT, uint } from './options.js';
import { Block1Assembler, Block2Store, type HeldReply } from './blockwise.js';
import { ExchangeCache } from './exchanges.js';
import { PeerTable, type Peer } from './peers.js';
import { Transmitter } from './transmitter.js';
import type { ObserveManager, NotificationSink, Observation } from './observe.js';
import type { CoapRequest } from './request.js';
import type { CoapEvent, Endpoint, RequestContext, ResponseSpec } from './types.js';
import { shapePayload } from './shape.js';
import { SeparateWatch } from './separate-watch.js';
import type { CoapCommandPolls } from './command-poll.js';
import { IdleWaiters } from '../../util/idle-waiters.js';
import type { Limiter } from '../../guard/limiter.js';
import type { ClientHelloFingerprint } from '../../security/client-hello.js';
import type { ListenerRateLimits } from '../../config/types.js';

export type { CoapEvent, Endpoint, RequestContext, ResponseSpec } from './types.js';

export class CoapCore implements NotificationSink {
  /** The listener's rate limits (guard.limits with its overrides). */
  readonly limiter: Limiter;
  readonly peers: PeerTable;
  readonly conExchanges: ExchangeCache;
  readonly nonExchanges: ExchangeCache;
  readonly block1: Block1Assembler;
  readonly block2: Block2Store;
  readonly transmitter: Transmitter;
  readonly observe: ObserveManager;
  readonly separate: SeparateWatch;
  /** Devices fetching their next command with a GET (command-poll.ts). */
  polls?: CoapCommandPolls;
  socket?: Socket;
  /** Set on a coaps listener: datagrams go out encrypted on the endpoint's DTLS association. */
  secure?: (dest: Endpoint, bytes: Buffer) => boolean;
  closing = false;
  inflight = 0;
  messagesIn = 0;
  messagesOut = 0;
  protocolErrors = 0;
  private readonly drained = new IdleWaiters(() => this.inflight === 0 && this.transmitter.outstanding === 0);
  private readonly eventChildren = new Map<CoapEvent, { inc(): void }>();
  private readonly reportBudget = new Map<string, { second: number; used: number; suppressed: number }>();

  constructor(
    readonly name: string,
    readonly options: CoapListenerOptions,
    readonly maxBodyBytes: number,
    /** `limits.maxInflight`: requests one source may have in the pipeline. */
    readonly maxInflight: number,
    readonly pipeline: Pipeline,
    readonly logger: Logger,
    private readonly guard: Guard,
    private readonly events: Counter<'listener' | 'event'>,
    observe: ObserveManager,
    maxPeers: number,
    limits?: ListenerRateLimits,
  ) {
    this.limiter = guard.limiter(name, limits);
    this.peers = new PeerTable({
      maxPeers,
      idleMs: options.peerIdleMs,
      ratePerSecond: options.requestsPerSecond,
      burst: options.burst,
      ipv6PrefixBits: options.rateLimitIpv6Prefix,
    });
    this.conExchanges = new ExchangeCache(options.exchangeLifetimeMs, options.maxExchanges);
    // NON_LIFETIME is EXCHANGE_LIFETIME less the ACK wait (145 s of 247 s with the defaults, RFC 7252 §4.8.2).
    this.nonExchanges = new ExchangeCache(Math.round((options.exchangeLifetimeMs * 145) / 247), options.maxExchanges);
    this.block1 = new Block1Assembler(maxBodyBytes, options.blockTransferTimeoutMs);
    this.block2 = new Block2Store(options.blockTransferTimeoutMs, options.maxExchanges);
    this.transmitter = new Transmitter(
      { ackTimeoutMs: options.ackTimeoutMs, ackRandomFactor: options.ackRandomFactor, maxRetransmit: options.maxRetransmit, queueLimit: 1024 },
      (peer, bytes) => this.write(peer, bytes),
      () => this.settled(),
      () => this.count('retransmit'),
    );
    this.observe = observe;
    observe.sink = this;
    this.separate = new SeparateWatch(options.separateResponseAfterMs, (ctx) => this.goSeparate(ctx));
  }

  /** Called when a request leaves the pipeline or a CON transmission ends: wakes a draining stop. */
  settled(): void {
    this.drained.check();
  }

  /** Resolves once no request is in the pipeline and no CON awaits its ACK, or after `ms`. */
  idle(ms: number): Promise<void> {
    return this.drained.wait(ms);
  }

  /** Counts a listener event (`thinggate_downstream_coap_events_total`). */
  count(event: CoapEvent): void {
    let c = this.eventChildren.get(event);
    if (!c) this.eventChildren.set(event, (c = this.events.labels({ listener: this.name, event })));
    c.inc();
  }

  /** A DTLS ClientHello whose JA4 or JA3 is banned (guard/bans.ts): true, and the refusal is reported as `banned`. */
  bannedHello(address: string, hello: ClientHelloFingerprint): boolean {
    return this.guard.refuseHello(this.name, address, hello) !== undefined;
  }

  /** While the gateway is overloaded (guard.overload): the Max-Age in seconds for a 5.03; undefined otherwise. */
  overloaded(): number | undefined {
    return this.guard.refuseOverloaded(this.name) ? this.guard.overloadRetryAfterSeconds : undefined;
  }

  /**
   * Reports a security event, at most ten per second per kind: a flood of bad
   * datagrams must not become a flood of log lines. Suppressed reports are
   * still counted in `thinggate_downstream_coap_events_total`.
   */
  report(event: Omit<SecurityEvent, 'listener'>): void {
    const second = Math.floor(Date.now() / 1000);
    let b = this.reportBudget.get(event.kind);
    if (!b) this.reportBudget.set(event.kind, (b = { second, used: 0, suppressed: 0 }));
    if (b.second !== second) {
      b.second = second;
      b.used = 0;
    }
    if (b.used >= 10) {
      b.suppressed++;
      return;
    }
    b.used++;
    const detail = b.suppressed > 0 ? `${event.detail} (${b.suppressed} similar events not logged)` : event.detail;
    b.suppressed = 0;
    this.guard.report({ ...event, detail, listener: this.name });
  }

  write(dest: Endpoint, bytes: Buffer): void {
    if (this.secure) {
      if (this.secure(dest, bytes)) this.messagesOut++;
      return;
    }
    const s = this.socket;
    if (!s) return;
    this.messagesOut++;
    // No callback: a failed send surfaces as the socket's 'error' event, which the listener logs.
    s.send(bytes, dest.port, dest.address);
  }

  /** An Empty ACK (RFC 7252 §5.2.2) or RST (§4.2) for a message id. */
  writeEmpty(peer: Endpoint, type: typeof TYPE_ACK | 3, messageId: number): Buffer {
    const b = emptyMessage(type, messageId);
    this.write(peer, b);
    return b;
  }

  /** RFC 7252 §5.2.2: the back-end is slow — acknowledge now, answer later in a CON of its own. */
  goSeparate(ctx: RequestContext): void {
    const ex = ctx.exchange;
    if (ex.state !== 'pending') return;
    ex.state = 'separate';
    this.count('separate');
    this.writeEmpty(ctx.peer, TYPE_ACK, ctx.messageId);
  }

  /**
   * Answers one request; the exchange remembers the bytes for duplicates
   * (RFC 7252 §4.5). `outcome`, when given, learns whether a separate CON
   * response was acknowledged ('ack'), or that the answer was sent without
   * a confirmation to wait for ('sent': piggybacked, NON or suppressed).
   */
  respond(ctx: RequestContext, spec: ResponseSpec, held?: HeldReply, outcome?: (r: 'ack' | 'rst' | 'timeout' | 'cancelled' | 'sent') => void): void {
    const ex = ctx.exchange;
    const separate = ex.state === 'separate';
    ex.state = 'done';
    // RFC 7967: the client asked not to hear about this class of response.
    const nr = ctx.req.noResponse;
    if (nr !== undefined && (nr & (1 << ((spec.code >> 5) - 1))) !== 0) {
      if (ctx.confirmable && !separate) ex.response = this.writeEmpty(ctx.peer, TYPE_ACK, ctx.messageId);
      outcome?.('sent');
      return;
    }
    let options: CoapOption[] = spec.options ? [...spec.options] : [];
    let payload = shapePayload(
      this,
      ctx.peer,
      ctx.requestBytes,
      ctx.token.length,
      spec,
      options,
      ctx.req.block2,
      () => this.block2Key(ctx.peer, ctx.req),
      held,
    );
    if (payload === undefined) {
      // RFC 7959 §2.2: a block number past the end of the representation → 4.02 Bad Option.
      spec = { code: 0x82, payload: Buffer.from('block number out of range') };
      options = [];
      payload = shapePayload(this, ctx.peer, ctx.requestBytes, ctx.token.length, spec, options, undefined, () => '')!;
    }
    if (options.length > 1) options.sort((a, b) => a.number - b.number);
    if (separate) {
      // RFC 7252 §5.2.2: the separate response is a new CON carrying the request's token.
      const mid = this.peers.messageId(ctx.peer);
      const bytes = serializeMessage({ type: TYPE_CON, code: spec.code, messageId: mid, token: ctx.token, options, payload });
      const sent = this.transmitter.send(ctx.peer, mid, bytes, (r) => {
        if (r === 'ack' || r === 'rst') ctx.peer.verified = true;
        else if (r === 'timeout') this.count('transmit-timeout');
        outcome?.(r);
      });
      if (!sent) {
        this.count('dropped');
        outcome?.('cancelled');
      }
      return;
    }
    const type = ctx.confirmable ? TYPE_ACK : TYPE_NON;
    const mid = ctx.confirmable ? ctx.messageId : this.peers.messageId(ctx.peer);
    const bytes = serializeMessage({ type, code: spec.code, messageId: mid, token: ctx.token, options, payload });
    ex.response = bytes;
    this.write(ctx.peer, bytes);
    outcome?.('sent');
  }

  /** Sends one notification of an observation (RFC 7641 §4.2). */
  notify(obs: Observation, message: DeviceMessage, confirmable: boolean): void {
    const peer = obs.session.peer;
    const options: CoapOption[] = [{ number: OPT.OBSERVE, value: uint(obs.seq) }];
    if (message.expiresAt !== undefined) {
      options.push({ number: OPT.MAX_AGE, value: uint(Math.max(0, Math.ceil((message.expiresAt - Date.now()) / 1000))) });
    }
    const cf = message.contentType !== undefined ? coapFormatForMediaType(message.contentType) : undefined;
    const spec: ResponseSpec = { code: 0x45, payload: message.payload, ...(cf !== undefined && { contentFormat: cf }) };
    const payload = shapePayload(this, peer, obs.requestBytes, obs.token.length, spec, options, undefined, () => `${peer.key}|${obs.address}`)!;
    options.sort((a, b) => a.number - b.number);
    const mid = this.peers.messageId(peer);
    obs.lastMessageId = mid;
    const bytes = serializeMessage({ type: confirmable ? TYPE_CON : TYPE_NON, code: 0x45, messageId: mid, token: obs.token, options, payload });
    this.count('notification');
    if (!confirmable) {
      this.write(peer, bytes);
      return;
    }
    const sent = this.transmitter.send(peer, mid, bytes, (r) => {
      if (r === 'ack') peer.verified = true;
      if (r === 'timeout') this.count('transmit-timeout');
      this.observe.settled(obs, r);
    });
    if (!sent) this.observe.settled(obs, 'cancelled');
  }

  /** The Block2 store key of a request: source and full URI. */
  block2Key(peer: Peer, req: CoapRequest): string {
    return req.query === undefined ? `${peer.key}|${req.address}` : `${peer.key}|${req.address}?${req.query}`;
  }
}
