/**
 * A listener's rate limits (guard.limits, with the listener's overrides):
 * token buckets on messages, bytes, subscriptions and links, one per client
 * id, principal, source address and address prefix (/24 IPv4, /64 IPv6).
 * The listener asks once per message (or SUBSCRIBE filter, or link attach)
 * and translates a {@link Throttle} into its protocol's flow control.
 *
 * Two ways to ask: {@link Limiter.admit} refuses what is over (the caller
 * answers 0x96 / 4.29 / 429 and the message is not taken), and
 * {@link Limiter.charge} always takes and tells how long to stop reading
 * (MQTT 3.1.1 paused reads, AMQP withheld credit), so nothing already
 * received is ever refused.
 */
import type { RateLimitsConfig, RateResource, RateScope, RateSpecConfig } from '../config/types.js';
import { RATE_SCOPES } from '../config/sections/guard.js';
import { sourceKey } from '../util/address.js';
import type { RateCounter, RateCounterFactory } from './rate-counter.js';

/** Who a connection is, resolved once per connection by {@link Limiter.keys}. */
export interface LimitKeys {
  readonly remoteAddress: string;
  readonly clientId?: string;
  readonly principal?: string;
  /** Per scope: the bucket key, or undefined when the scope does not apply (no principal, exempt address). */
  readonly scoped: Readonly<Record<RateScope, string | undefined>>;
}

/** A limit that was reached. */
export interface Throttle {
  readonly resource: RateResource;
  readonly scope: RateScope;
  readonly spec: RateSpecConfig;
  /** Milliseconds until the bucket allows it again (admit) or is out of debt (charge); at least 1. */
  readonly retryAfterMs: number;
  /** False in dry-run mode (`action: log`): reported only, the caller lets it through. */
  readonly enforced: boolean;
}

export interface LimiterDeps {
  readonly listener: string;
  /** The listener's effective limits (read on each use, so a reload applies). */
  readonly config: () => RateLimitsConfig;
  readonly counters: RateCounterFactory;
  /** Exempt addresses (guard.exempt) are never limited. */
  readonly exempt: (address: string) => boolean;
  /** While the gateway is overloaded and throttling publishers: how long to stop reading after each message (0 otherwise). */
  readonly overloadPauseMs: () => number;
  /** Called for each limit reached (security event, metric). */
  readonly onThrottle: (t: Throttle, keys: LimitKeys) => void;
}

export class Limiter {
  private readonly counters = new Map<string, { spec: RateSpecConfig; counter: RateCounter }>();

  constructor(private readonly deps: LimiterDeps) {}

  get listener(): string {
    return this.deps.listener;
  }

  /** The MQTT 5 answer configured for this listener. */
  get mqtt5(): Pick<RateLimitsConfig, 'mqtt5' | 'mqtt5DisconnectReasonCode'> {
    return this.deps.config();
  }

  /** Overload protection's pause after each message while throttling publishers (0: none). */
  overloadPauseMs(): number {
    return this.deps.overloadPauseMs();
  }

  /** The bucket keys of a connection; call again when its client id or principal becomes known. */
  keys(remoteAddress: string, clientId?: string, principal?: string): LimitKeys {
    const exempt = this.deps.exempt(remoteAddress);
    const scoped: Record<RateScope, string | undefined> = {
      clientId: exempt || !clientId ? undefined : clientId,
      principal: exempt || !principal ? undefined : principal,
      address: exempt ? undefined : sourceKey(remoteAddress, 128),
      prefix: exempt ? undefined : sourceKey(remoteAddress, 64, 24),
    };
    return { remoteAddress, ...(clientId && { clientId }), ...(principal && { principal }), scoped };
  }

  /** Takes `cost` of `resource` from every bucket of `keys`, or refuses at the first that lacks it. */
  admit(keys: LimitKeys, resource: RateResource, cost = 1): Throttle | undefined {
    for (const scope of RATE_SCOPES) {
      const key = keys.scoped[scope];
      if (key === undefined) continue;
      const c = this.counter(resource, scope);
      if (!c) continue;
      const wait = c.counter.take(key, cost);
      if (wait > 0) return this.throttled(keys, resource, scope, c.spec, wait);
    }
    return undefined;
  }

  /** A message of `bytes`: {@link admit} on messages, then bytes. */
  admitMessage(keys: LimitKeys, bytes: number): Throttle | undefined {
    return this.admit(keys, 'messages') ?? this.admit(keys, 'bytes', bytes);
  }

  /** Charges a message of `bytes` to every bucket; the longest wait among those in debt, if any. */
  chargeMessage(keys: LimitKeys, bytes: number): Throttle | undefined {
    let worst: Throttle | undefined;
    for (const resource of ['messages', 'bytes'] as const) {
      for (const scope of RATE_SCOPES) {
        const key = keys.scoped[scope];
        if (key === undefined) continue;
        const c = this.counter(resource, scope);
        if (!c) continue;
        const wait = c.counter.charge(key, resource === 'messages' ? 1 : bytes);
        if (wait > (worst?.retryAfterMs ?? 0)) worst = { resource, scope, spec: c.spec, retryAfterMs: wait, enforced: true };
      }
    }
    return worst ? this.throttled(keys, worst.resource, worst.scope, worst.spec, worst.retryAfterMs) : undefined;
  }

  private throttled(keys: LimitKeys, resource: RateResource, scope: RateScope, spec: RateSpecConfig, wait: number): Throttle {
    const t: Throttle = { resource, scope, spec, retryAfterMs: Math.max(1, wait), enforced: this.deps.config().action === 'enforce' };
    this.deps.onThrottle(t, keys);
    return t;
  }

  /** The counter of one resource and scope under the current configuration; undefined when that limit is off. */
  private counter(resource: RateResource, scope: RateScope): { spec: RateSpecConfig; counter: RateCounter } | undefined {
    const spec = this.deps.config()[resource][scope];
    if (spec.perSecond <= 0) return undefined;
    const id = `${resource}:${scope}`;
    let c = this.counters.get(id);
    if (!c || c.spec !== spec) {
      c = { spec, counter: this.deps.counters(`${this.deps.listener}:${id}`, spec) };
      this.counters.set(id, c);
    }
    return c;
  }
}
