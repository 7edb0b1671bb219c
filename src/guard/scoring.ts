/**
 * Violation scoring and flapping detection, the two detectors that turn
 * guard events into bans.
 *
 * Scoring: each event kind has a weight; a source address and a client id
 * each carry a score that halves every `halfLifeSeconds`. A score reaching
 * `threshold` bans that address or client id for `banSeconds`, doubled for
 * each earlier ban of the same name (capped at `maxBanSeconds`); the score
 * then starts again from zero.
 *
 * Flapping (EMQX's flapping detect): more than `maxConnects` connects of one
 * client id, or `maxAddressConnects` from one address, within `windowSeconds`
 * bans it for `banSeconds`.
 */
import type { GuardConfig } from '../config/types.js';
import { DEFAULT_WEIGHTS } from '../config/sections/guard.js';

interface Score {
  value: number;
  at: number;
}

/** A ban a detector asks for. */
export interface BanRequest {
  readonly kind: 'ip' | 'clientId';
  readonly value: string;
  readonly ttlMs: number;
  readonly reason: string;
}

/** Most names tracked per detector; the stalest are forgotten first (bounded memory under address churn). */
const MAX_TRACKED = 100_000;

export class Scorer {
  private readonly scores = new Map<string, Score>();
  /** Bans issued so far per name, for the doubling. */
  private readonly offences = new Map<string, number>();

  constructor(
    private config: GuardConfig['scoring'],
    private readonly now: () => number,
  ) {}

  configure(config: GuardConfig['scoring']): void {
    this.config = config;
  }

  /** Adds an event's weight to its address and client id; returns the bans it triggers. */
  record(kind: string, remoteAddress: string | undefined, clientId: string | undefined): BanRequest[] {
    const c = this.config;
    if (!c.enabled) return [];
    const weight = c.weights[kind] ?? DEFAULT_WEIGHTS[kind] ?? c.defaultWeight;
    if (weight <= 0) return [];
    const out: BanRequest[] = [];
    if (remoteAddress !== undefined && remoteAddress !== 'unknown') this.add('ip', remoteAddress, weight, kind, out);
    if (clientId !== undefined && clientId.length > 0) this.add('clientId', clientId, weight, kind, out);
    return out;
  }

  private add(kind: BanRequest['kind'], value: string, weight: number, event: string, out: BanRequest[]): void {
    const key = `${kind}:${value}`;
    const t = this.now();
    const s = this.scores.get(key);
    const decayed = s ? s.value * 0.5 ** ((t - s.at) / (this.config.halfLifeSeconds * 1000)) : 0;
    const value2 = decayed + weight;
    this.scores.delete(key);
    if (value2 < this.config.threshold) {
      this.scores.set(key, { value: value2, at: t });
      trim(this.scores);
      return;
    }
    const n = this.offences.get(key) ?? 0;
    this.offences.delete(key);
    this.offences.set(key, n + 1);
    trim(this.offences);
    const seconds = Math.min(this.config.banSeconds * 2 ** n, this.config.maxBanSeconds);
    out.push({
      kind,
      value,
      ttlMs: seconds * 1000,
      reason: `violation score ${value2.toFixed(1)} reached ${this.config.threshold} (last: ${event}; offence ${n + 1})`,
    });
  }
}

export class FlapDetector {
  private readonly connects = new Map<string, number[]>();

  constructor(
    private config: GuardConfig['flapping'],
    private readonly now: () => number,
  ) {}

  configure(config: GuardConfig['flapping']): void {
    this.config = config;
  }

  /** Records one connect by `kind`/`value`; returns a ban when it flaps. */
  connect(kind: BanRequest['kind'], value: string): BanRequest | undefined {
    const c = this.config;
    if (!c.enabled || value.length === 0) return undefined;
    const key = `${kind}:${value}`;
    const t = this.now();
    const windowMs = c.windowSeconds * 1000;
    const times = (this.connects.get(key) ?? []).filter((x) => t - x < windowMs);
    times.push(t);
    this.connects.delete(key);
    if (times.length > (kind === 'ip' ? c.maxAddressConnects : c.maxConnects)) {
      return { kind, value, ttlMs: c.banSeconds * 1000, reason: `flapping: ${times.length} connects within ${c.windowSeconds} s` };
    }
    this.connects.set(key, times);
    trim(this.connects);
    return undefined;
  }
}

function trim(map: Map<string, unknown>): void {
  while (map.size > MAX_TRACKED) map.delete(map.keys().next().value as string);
}
