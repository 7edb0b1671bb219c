/**
 * Protocol-abuse detection. Listeners report every violation here as a
 * structured security event: it is counted, and logged (naming the spec
 * clause) — in full the first time a source repeats it, then as one summary
 * line per interval (repeats.ts) — and scored (scoring.ts): a source that
 * keeps violating gets banned (bans.ts). Listeners ask {@link Guard.refuseAddress}
 * at accept (CoAP: per datagram), {@link Guard.refuseHello} once a TLS or
 * DTLS ClientHello is read, and {@link Guard.refuseClient} at the protocol
 * hello (MQTT CONNECT, AMQP open, HTTP request).
 */
import type { Logger } from 'pino';
import type { Metrics, Counter } from '../observability/metrics.js';
import type { Gauge } from '../observability/metrics.js';
import type { GuardConfig, ListenerRateLimits, RateLimitsConfig } from '../config/types.js';
import { RepeatFilter, type RepeatSummary } from './repeats.js';
import { BanList, prefixMatcher, type Ban, type BanSubject } from './bans.js';
import { FlapDetector, Scorer, type BanRequest } from './scoring.js';
import type { ClientHelloFingerprint } from '../security/client-hello.js';
import { embeddedRateCounters, type RateCounter, type RateCounterFactory } from './rate-counter.js';
import { Limiter, type LimitKeys, type Throttle } from './limiter.js';
import { listenerLimits } from './listener-limits.js';
import { PeerWatch, type WatchedPeer } from './peer-watch.js';
import { OVERLOAD_LEVEL, OverloadMonitor, type LoadCounts, type OverloadSample, type OverloadState } from './overload.js';
import type { BanStore } from '../state/bans.js';
import type { Counters } from '../state/counters.js';
import { sharedRateCounters } from './shared-rate-counter.js';
import { shareDetectors } from './shared-detectors.js';

export interface SecurityEvent {
  /** Short machine name: 'malformed-packet', 'protocol-error', 'oversize', 'flood', 'slow-client', 'connection-limit', 'tls-handshake-failure', 'auth-failure', ... */
  readonly kind: string;
  readonly listener: string;
  readonly remoteAddress?: string;
  readonly clientId?: string;
  /** The authenticated principal, when the connection has one (scored: an account rotating client ids is still caught). */
  readonly principal?: string;
  /** SHA-256 fingerprint of the client certificate (scored: one certificate behind rotating addresses is still caught). */
  readonly certFingerprint?: string;
  /** Spec clause the rule comes from, e.g. 'MQTT-3.1.0-2' or 'RFC7252-4.5'. */
  readonly clause?: string;
  /** Protocol reason code sent to the peer, when one was (e.g. 0x82). */
  readonly reasonCode?: number;
  readonly detail: string;
}

export interface GuardOptions {
  /**
   * Repeats of one event (same listener, kind, clause and remote address)
   * are logged once, then summarised once per this interval; 0 logs every
   * event. Default {@link DEFAULT_SUMMARY_INTERVAL_MS}.
   */
  readonly summaryIntervalMs?: number;
  /** Bans, scoring and flapping; without it nothing is banned. */
  readonly config?: GuardConfig;
  /** Resolved `guard.stateDir`; without it (and without `banStore`) dynamic bans live in memory only. */
  readonly stateDir?: string;
  /** Where dynamic bans are written through (the state backend's); default the file in `stateDir`. */
  readonly banStore?: BanStore;
  /** Injected clock (unit tests). */
  readonly now?: () => number;
  /** Where token buckets live; default in-process ({@link embeddedRateCounters}), or shared through `sharedCounters`. */
  readonly counters?: RateCounterFactory;
  /** The state layer's shared counters (Redis backend): rate limits then count across nodes, approximately (shared-rate-counter.ts). */
  readonly sharedCounters?: Counters;
  /** Injected overload measurements (unit tests); default the process's event loop and heap. */
  readonly overloadSample?: () => OverloadSample;
  /** The gateway's open connections and messages in flight, for the overload watermarks on them. */
  readonly load?: LoadCounts;
}

/** A guard that limits, scores and bans nothing (no configuration given; tests start from it). */
export const GUARD_OFF: GuardConfig = {
  stateDir: '.thinggate',
  bans: [],
  exempt: [],
  scoring: { enabled: false, weights: {}, defaultWeight: 0, halfLifeSeconds: 60, threshold: 1, banSeconds: 1, maxBanSeconds: 1 },
  limits: {
    connectionsPerSecond: 0,
    connectionBurst: 1,
    action: 'log',
    mqtt5: 'puback',
    mqtt5DisconnectReasonCode: 150,
    messages: offRates(),
    bytes: offRates(),
    subscriptions: offRates(),
    links: offRates(),
  },
  flapping: { enabled: false, maxConnects: 1, maxAddressConnects: 1, windowSeconds: 1, banSeconds: 1 },
  slowPeers: { enabled: false, minBytesPerSecond: 0, windowSeconds: 1, maxOutboundBytes: 0, action: 'log' },
  overload: {
    enabled: false,
    intervalMs: 1000,
    eventLoopDelayMs: { refuse: 1, throttle: 1 },
    heapUsedRatio: { refuse: 1, throttle: 1 },
    connections: { refuse: 0, throttle: 0 },
    messagesInFlight: { refuse: 0, throttle: 0 },
    recoverRatio: 1,
    retryAfterSeconds: 1,
    throttlePauseMs: 1,
  },
};

export const DEFAULT_SUMMARY_INTERVAL_MS = 10_000;

/** How long a new ban waits before closing the open connections it covers. */
const BAN_CLOSE_GRACE_MS = 250;

/**
 * Kinds logged at info rather than warn: what scanners and misconfigured
 * clients cause all day long, with no harm done to the gateway.
 */
const INFO_KINDS: ReadonlySet<string> = new Set(['tls-handshake-failure']);

export class Guard {
  private readonly events: Counter<'listener' | 'kind'>;
  private readonly repeats: RepeatFilter;
  private summaryIntervalMs: number;
  /** Read-only observers of reported events (the admin event log). */
  private readonly observers = new Set<(event: SecurityEvent) => void>();
  readonly bans: BanList;
  private readonly scorer: Scorer;
  private readonly flaps: FlapDetector;
  private connectRate: RateCounter;
  private readonly counters: RateCounterFactory;
  private readonly stopShared: (() => void) | undefined;
  private readonly stopSharedDetectors: (() => void) | undefined;
  private config: GuardConfig;
  private isExempt: (address: string) => boolean;
  private readonly throttles: Counter<'listener' | 'resource' | 'scope'>;
  private readonly peerWatch: PeerWatch;
  readonly overload: OverloadMonitor;
  private readonly overloadRefusals: Counter<'listener'>;
  private readonly bansTotal: Counter<'kind' | 'source'>;
  private readonly activeBans: Gauge;
  private closeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    metrics: Metrics,
    options: GuardOptions = {},
  ) {
    this.events = metrics.counter('thinggate_guard_events_total', 'Protocol violations and abuse seen, by listener and kind', ['listener', 'kind']);
    this.summaryIntervalMs = options.summaryIntervalMs ?? DEFAULT_SUMMARY_INTERVAL_MS;
    this.repeats = new RepeatFilter(this.summaryIntervalMs, (s) => this.summarise(s));
    this.bansTotal = metrics.counter('thinggate_guard_bans_total', 'Bans issued, by kind and source (api, scoring, flapping)', ['kind', 'source']);
    this.activeBans = metrics.gauge('thinggate_guard_bans_active', 'Bans in force (configured and dynamic)');
    const now = options.now ?? Date.now;
    this.config = options.config ?? GUARD_OFF;
    this.scorer = new Scorer(this.config.scoring, now);
    this.flaps = new FlapDetector(this.config.flapping, now);
    const shared = options.sharedCounters && !options.counters ? sharedRateCounters(options.sharedCounters, now) : undefined;
    this.stopShared = shared?.stop;
    this.counters = options.counters ?? shared?.factory ?? embeddedRateCounters(now);
    this.connectRate = this.connectCounter();
    this.isExempt = prefixMatcher(this.config.exempt);
    const overloadState = metrics.gauge(
      'thinggate_guard_overload_state',
      'Overload protection: 0 normal, 1 refusing new connections, 2 also throttling publishers',
    );
    const transitions = metrics.counter('thinggate_guard_overload_transitions_total', 'Overload state changes, by new state', ['state']);
    this.overloadRefusals = metrics.counter('thinggate_guard_overload_refusals_total', 'Connections and requests refused while overloaded, by listener', [
      'listener',
    ]);
    this.overload = new OverloadMonitor(
      this.config.overload,
      (from, to, s) => {
        overloadState.set(OVERLOAD_LEVEL[to]);
        transitions.inc({ state: to });
        this.logger[to === 'normal' ? 'info' : 'warn'](
          {
            event: 'overload',
            from,
            to,
            loopDelayMs: Math.round(s.loopDelayMs),
            heapRatio: Number(s.heapRatio.toFixed(3)),
            connections: s.connections,
            inflight: s.inflight,
          },
          `guard: overload ${from} -> ${to} (event-loop delay ${Math.round(s.loopDelayMs)} ms, heap ${(s.heapRatio * 100).toFixed(1)}%, ${s.connections ?? '?'} connections, ${s.inflight ?? '?'} in flight)`,
        );
      },
      options.overloadSample,
      options.load,
    );
    this.peerWatch = new PeerWatch(this.config.slowPeers, (peer, why, detail) => this.slowPeer(peer, why, detail));
    this.throttles = metrics.counter(
      'thinggate_guard_throttled_total',
      'Messages, bytes, subscriptions and links over a rate limit, by listener, resource and scope',
      ['listener', 'resource', 'scope'],
    );
    this.bans = new BanList({
      ...(options.stateDir !== undefined && { stateDir: options.stateDir }),
      ...(options.banStore !== undefined && { store: options.banStore }),
      now,
      onChange: (change, ban, why) => this.banChanged(change, ban, why),
      onSync: () => this.activeBans.set(this.bans.count()),
      onStoreError: (operation, err) => this.logger.warn({ err, operation }, 'bans: writing to the ban store failed; the ban holds on this node only'),
    });
    this.applyStatic();
    // Scores and flap counts of every node add up (shared-detectors.ts); the bans they issue are shared by the ban store.
    if (options.sharedCounters) {
      this.stopSharedDetectors = shareDetectors(
        options.sharedCounters,
        this.scorer,
        this.flaps,
        () => this.config.flapping,
        (request, source) => this.enforce(request, source),
        now,
      );
    }
  }

  /**
   * At accept (CoAP: per datagram): the ban on this address, if any. A
   * refused connection is reported as `banned` (weight 0: never scored).
   */
  refuseAddress(listener: string, remoteAddress: string): Ban | undefined {
    let ban = this.bans.match({ remoteAddress });
    if (!ban && !this.exempt(remoteAddress)) ban = this.enforce(this.flaps.connect('ip', remoteAddress));
    if (ban) this.refused(listener, { remoteAddress }, ban);
    return ban;
  }

  /**
   * At accept, after {@link refuseAddress}: false when the address opens
   * connections faster than guard.limits allow (reported as `flood`, which
   * scores). Exempt addresses are not limited.
   */
  admitConnection(listener: string, remoteAddress: string): boolean {
    if (this.exempt(remoteAddress) || this.connectRate.take(remoteAddress, 1) === 0) return true;
    const { connectionsPerSecond, connectionBurst } = this.config.limits;
    this.report({
      kind: 'flood',
      listener,
      remoteAddress,
      detail: `connection refused at accept: more than ${connectionsPerSecond}/s (burst ${connectionBurst}) new connections from this address (guard.limits)`,
    });
    return false;
  }

  /** Per datagram (CoAP): the ban on this address, if any; datagrams are not connects, so flapping does not count them. */
  refuseDatagram(listener: string, remoteAddress: string): Ban | undefined {
    const ban = this.bans.match({ remoteAddress });
    if (ban) this.refused(listener, { remoteAddress }, ban);
    return ban;
  }

  /**
   * Once a TLS or DTLS ClientHello is read, before the handshake goes on:
   * the ban on its JA4 or JA3, if any (reported as `banned`).
   */
  /** Whether any JA4 or JA3 ban is configured or issued (expired ones may count until their sweep). */
  hasHelloBans(): boolean {
    return this.bans.hasHelloBans();
  }

  refuseHello(listener: string, remoteAddress: string, hello: ClientHelloFingerprint): Ban | undefined {
    const ban = this.bans.match({ ja4: hello.ja4, ja3: hello.ja3 });
    if (ban) this.refused(listener, { remoteAddress }, ban);
    return ban;
  }

  /** After authentication: the ban on this principal, if any. */
  refusePrincipal(listener: string, principal: string, subject: BanSubject): Ban | undefined {
    const ban = this.bans.match({ principal });
    if (ban) this.refused(listener, subject, ban);
    return ban;
  }

  /**
   * At the protocol hello: the ban on this client id, principal, address or
   * client certificate, if any. `connect` (default) counts it for flapping
   * by client id and by certificate; an HTTP request is no connect.
   */
  refuseClient(listener: string, subject: BanSubject, connect = true): Ban | undefined {
    let ban = this.bans.match(subject);
    if (!ban && connect && !this.exempt(subject.remoteAddress)) {
      if (subject.clientId !== undefined) ban = this.enforce(this.flaps.connect('clientId', subject.clientId));
      if (!ban && subject.certFingerprint !== undefined) ban = this.enforce(this.flaps.connect('certFingerprint', subject.certFingerprint));
    }
    if (ban) this.refused(listener, subject, ban);
    return ban;
  }

  /** Adds a ban; reported once in the log and in `thinggate_guard_bans_total`. */
  ban(request: BanRequest | Omit<Parameters<BanList['add']>[0], 'source'>, source: string): Ban {
    return this.bans.add({ ...request, source });
  }

  /**
   * Records a security event: a counter increment always, and a log line
   * with `event: "security"` (warn; info for the kinds in INFO_KINDS) unless
   * the same source repeated it within the summary interval.
   */
  report(event: SecurityEvent): void {
    this.events.inc({ listener: event.listener, kind: event.kind });
    if (!this.exempt(event.remoteAddress)) {
      for (const r of this.scorer.record(event.kind, event)) this.enforce(r, 'scoring');
    }
    if (!this.repeats.first(event)) return;
    this.logger[levelOf(event.kind)]({ event: 'security', ...event }, `security: ${event.kind}: ${event.detail}`);
    // Observers (the admin event log) see what the log shows: a source's repeats are summarised, not replayed.
    for (const o of this.observers) o(event);
  }

  /** Calls `observer` after each logged event; returns the function that stops it. */
  onEvent(observer: (event: SecurityEvent) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /** How often repeats are summarised (0: every event is logged). */
  get summaryInterval(): number {
    return this.summaryIntervalMs;
  }

  /** Applies a reloaded configuration's interval. */
  configure(options: GuardOptions): void {
    this.summaryIntervalMs = options.summaryIntervalMs ?? DEFAULT_SUMMARY_INTERVAL_MS;
    this.repeats.setInterval(this.summaryIntervalMs);
    if (options.config) {
      this.config = options.config;
      this.scorer.configure(this.config.scoring);
      this.flaps.configure(this.config.flapping);
      this.connectRate = this.connectCounter();
      this.isExempt = prefixMatcher(this.config.exempt);
      this.peerWatch.configure(this.config.slowPeers);
      this.overload.configure(this.config.overload);
      this.applyStatic();
    }
  }

  private applyStatic(): void {
    this.bans.setStatic(
      this.config.bans.map((b) => ({ kind: b.kind, value: b.value, reason: b.reason, ...(b.ttlSeconds !== undefined && { ttlMs: b.ttlSeconds * 1000 }) })),
    );
    this.activeBans.set(this.bans.count());
  }

  private exempt(address: string | undefined): boolean {
    return address === undefined || this.isExempt(address);
  }

  private connectCounter(): RateCounter {
    const { connectionsPerSecond, connectionBurst } = this.config.limits;
    return this.counters('connections:address', { perSecond: connectionsPerSecond, burst: connectionBurst });
  }

  /**
   * The rate limits of one listener: `guard.limits` with the listener's
   * overrides, followed across reloads. Each limit reached is a
   * `rate-limited` security event (scored: a source that keeps hitting its
   * limits gets banned) and counted in `thinggate_guard_throttled_total`.
   */
  limiter(listener: string, overrides?: ListenerRateLimits): Limiter {
    let base: GuardConfig | undefined;
    let merged: RateLimitsConfig | undefined;
    return new Limiter({
      listener,
      config: () => {
        if (base !== this.config) {
          base = this.config;
          merged = listenerLimits(this.config.limits, overrides);
        }
        return merged!;
      },
      counters: this.counters,
      exempt: (address) => this.isExempt(address),
      overloadPauseMs: () => this.overload.throttlePauseMs,
      onThrottle: (t, keys) => this.throttled(listener, t, keys),
    });
  }

  /**
   * While overloaded (refusing or throttling), true: the listener answers a
   * new connection or request with its protocol's "server busy" (MQTT
   * CONNACK 0x89 / 0x03, AMQP amqp:resource-limit-exceeded, HTTP 503, CoAP
   * 5.03), with Retry-After / Max-Age {@link overloadRetryAfterSeconds}.
   */
  refuseOverloaded(listener: string): boolean {
    if (this.overload.state === 'normal') return false;
    this.overloadRefusals.inc({ listener });
    return true;
  }

  get overloadRetryAfterSeconds(): number {
    return this.overload.retryAfterSeconds;
  }

  get overloadState(): OverloadState {
    return this.overload.state;
  }

  /**
   * Watches a connection for slow drip and unread output (guard.slowPeers),
   * and closes it when a new ban covers it; returns the function that stops
   * watching it (call it on close). Exempt addresses are not sampled.
   */
  watchPeer(peer: WatchedPeer): () => void {
    return this.peerWatch.watch(peer, !this.exempt(peer.remoteAddress));
  }

  private slowPeer(peer: WatchedPeer, why: 'slow-drip' | 'not-reading', detail: string): void {
    const enforce = this.config.slowPeers.action === 'enforce';
    const clientId = peer.clientId();
    this.report({
      kind: 'slow-client',
      listener: peer.listener,
      remoteAddress: peer.remoteAddress,
      ...(clientId !== undefined && clientId.length > 0 && { clientId }),
      detail: `${why}: ${detail}${enforce ? '; connection closed' : '; not enforced (action: log)'}`,
    });
    if (enforce) peer.close(why);
  }

  private throttled(listener: string, t: Throttle, keys: LimitKeys): void {
    this.throttles.inc({ listener, resource: t.resource, scope: t.scope });
    const unit = t.resource === 'bytes' ? ' bytes' : '';
    this.report({
      kind: 'rate-limited',
      listener,
      remoteAddress: keys.remoteAddress,
      ...(keys.clientId !== undefined && { clientId: keys.clientId }),
      ...(keys.principal !== undefined && { principal: keys.principal }),
      detail:
        `${t.resource} over the ${t.scope} limit of ${t.spec.perSecond}${unit}/s (burst ${t.spec.burst}); ` +
        `${t.enforced ? `held back ${t.retryAfterMs} ms` : 'not enforced (action: log)'}`,
    });
  }

  /** Issues a detector's ban (unless one already covers it); returns it. */
  private enforce(request: BanRequest | undefined, source = 'flapping'): Ban | undefined {
    if (!request) return undefined;
    return this.bans.match({ [request.kind === 'ip' ? 'remoteAddress' : request.kind]: request.value }) ?? this.ban(request, source);
  }

  /**
   * A new ban also ends the connections it covers (by address, prefix or
   * client id), as EMQX kicks a banned client: otherwise what an abuser
   * opened before it was banned (a slow drip's connections, a flood's
   * session) stays open. After a short grace, so that a connection refused
   * by this very ban (CONNACK 0x8A, 403) ends with its answer written.
   */
  private closeBanned(): void {
    if (this.closeTimer) return;
    this.closeTimer = setTimeout(() => {
      this.closeTimer = undefined;
      this.peerWatch.closeWhere((p) => {
        const clientId = p.clientId();
        return this.bans.match({ remoteAddress: p.remoteAddress, ...(clientId && { clientId }) }) !== undefined;
      });
    }, BAN_CLOSE_GRACE_MS);
    this.closeTimer.unref();
  }

  private refused(listener: string, subject: BanSubject, ban: Ban): void {
    this.report({
      kind: 'banned',
      listener,
      ...(subject.remoteAddress !== undefined && { remoteAddress: subject.remoteAddress }),
      ...(subject.clientId !== undefined && { clientId: subject.clientId }),
      detail: `refused: ${ban.kind} ${ban.value} is banned (${ban.reason})`,
    });
  }

  private banChanged(change: 'ban' | 'unban', ban: Ban, why: string): void {
    this.activeBans.set(this.bans.count());
    if (change === 'ban') {
      this.bansTotal.inc({ kind: ban.kind, source: ban.source });
      this.closeBanned();
    }
    const until = ban.expiresAt !== undefined ? new Date(ban.expiresAt).toISOString() : 'no expiry';
    this.logger.warn(
      { event: change, ban },
      change === 'ban'
        ? `guard: banned ${ban.kind} ${ban.value} until ${until} (${ban.source}: ${why})`
        : `guard: lifted ban on ${ban.kind} ${ban.value} (${why})`,
    );
  }

  /** Writes the summaries still pending and stops sampling the process (gateway stop). */
  flush(): void {
    clearTimeout(this.closeTimer);
    this.overload.stop();
    this.repeats.flush();
  }

  /** Stops following the ban store (gateway stop). */
  close(): void {
    this.bans.close();
    this.stopShared?.();
    this.stopSharedDetectors?.();
  }

  private summarise(s: RepeatSummary): void {
    const from = s.remoteAddress !== undefined ? ` from ${s.remoteAddress}` : '';
    this.logger[levelOf(s.kind)](
      { event: 'security-summary', ...s, intervalMs: this.summaryIntervalMs },
      `security: ${s.kind}: ${s.suppressed} more${from} not logged (last: ${s.lastDetail})`,
    );
  }
}

function offRates(): RateLimitsConfig['messages'] {
  const off = { perSecond: 0, burst: 1 };
  return { clientId: off, principal: off, address: off, prefix: off };
}

function levelOf(kind: string): 'info' | 'warn' {
  return INFO_KINDS.has(kind) ? 'info' : 'warn';
}
