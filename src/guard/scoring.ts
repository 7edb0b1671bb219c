/**
 * Violation scoring and flapping detection, the two detectors that turn
 * guard events into bans.
 *
 * Scoring: each event kind has a weight; a source address, a client id, a
 * principal and a client certificate (SHA-256 fingerprint) each carry a
 * score that halves every `halfLifeSeconds`, so an abuser rotating addresses
 * and client ids behind one certificate or account is still caught. A score
 * reaching `threshold` bans that name for `banSeconds`, doubled for
 * each earlier ban of the same name (capped at `maxBanSeconds`); the score
 * then starts again from zero.
 *
 * Flapping (EMQX's flapping detect): more than `maxConnects` connects of one
 * client id (or one client certificate), or `maxAddressConnects` from one
 * address, within `windowSeconds` bans it for `banSeconds`.
 */
import type { GuardConfig } from '../config/types.js';
import { DEFAULT_WEIGHTS } from '../config/sections/guard.js';

interface Score {
  value: number;
  at: number;
}

/** The names a detector keeps a score or a connect count for. */
export type ScoredKind = 'ip' | 'clientId' | 'principal' | 'certFingerprint';

/** What an event is known by, for scoring (any may be absent). */
export interface ScoredSubject {
  readonly remoteAddress?: string | undefined;
  readonly clientId?: string | undefined;
  readonly principal?: string | undefined;
  readonly certFingerprint?: string | undefined;
}

/** A ban a detector asks for. */
export interface BanRequest {
  readonly kind: ScoredKind;
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
  /** Told of every weight added here (shared-detectors.ts adds it to the cluster's count). */
  onScore: ((kind: ScoredKind, value: string, weight: number) => void) | undefined;

  constructor(
    private config: GuardConfig['scoring'],
    private readonly now: () => number,
  ) {}

  configure(config: GuardConfig['scoring']): void {
    this.config = config;
  }

  /** Adds an event's weight to each of its names (address, client id, principal, certificate); returns the bans it triggers. */
  record(kind: string, subject: ScoredSubject): BanRequest[] {
    const c = this.config;
    if (!c.enabled) return [];
    const weight = c.weights[kind] ?? DEFAULT_WEIGHTS[kind] ?? c.defaultWeight;
    if (weight <= 0) return [];
    const out: BanRequest[] = [];
    for (const [name, value] of namesOf(subject)) {
      this.onScore?.(name, value, weight);
      this.add(name, value, weight, kind, out);
    }
    return out;
  }

  /** Adds what other nodes scored for a name (shared-detectors.ts); returns the ban it triggers. */
  addShared(kind: ScoredKind, value: string, weight: number): BanRequest | undefined {
    if (!this.config.enabled) return undefined;
    const out: BanRequest[] = [];
    this.add(kind, value, weight, 'events on other nodes', out);
    return out[0];
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
  /** Told of every connect with the name's count in the window (shared-detectors.ts). */
  onConnect: ((kind: ScoredKind, value: string, inWindow: number) => void) | undefined;

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
    this.onConnect?.(kind, value, times.length);
    if (times.length > this.max(kind)) return this.ban(kind, value, `${times.length} connects within ${c.windowSeconds} s`);
    this.connects.set(key, times);
    trim(this.connects);
    return undefined;
  }

  /** The cluster's connects of a name in the current window (shared-detectors.ts): a ban when over the limit. */
  clusterTotal(kind: BanRequest['kind'], value: string, total: number): BanRequest | undefined {
    if (!this.config.enabled || total <= this.max(kind)) return undefined;
    this.connects.delete(`${kind}:${value}`);
    return this.ban(kind, value, `${total} connects within ${this.config.windowSeconds} s across the nodes`);
  }

  private max(kind: BanRequest['kind']): number {
    return kind === 'ip' ? this.config.maxAddressConnects : this.config.maxConnects;
  }

  private ban(kind: BanRequest['kind'], value: string, what: string): BanRequest {
    return { kind, value, ttlMs: this.config.banSeconds * 1000, reason: `flapping: ${what}` };
  }
}

/** The subject's names that are scored: absent, empty and unknown ones are not. */
export function namesOf(subject: ScoredSubject): Array<[ScoredKind, string]> {
  const out: Array<[ScoredKind, string]> = [];
  const { remoteAddress, clientId, principal, certFingerprint } = subject;
  if (remoteAddress !== undefined && remoteAddress !== 'unknown') out.push(['ip', remoteAddress]);
  if (clientId !== undefined && clientId.length > 0) out.push(['clientId', clientId]);
  if (principal !== undefined && principal.length > 0) out.push(['principal', principal]);
  if (certFingerprint !== undefined && certFingerprint.length > 0) out.push(['certFingerprint', certFingerprint]);
  return out;
}

/**
 * The names besides address and client id an event of a connection is
 * scored under (Scorer): its principal and its client certificate's
 * fingerprint, whichever it has.
 */
export function scoredNames(
  tls: { readonly peer?: { readonly fingerprint256: string } } | undefined,
  identity?: { readonly principal: string },
): { principal?: string; certFingerprint?: string } {
  const fp = tls?.peer?.fingerprint256;
  return { ...(identity !== undefined && { principal: identity.principal }), ...(fp && { certFingerprint: fp }) };
}

function trim(map: Map<string, unknown>): void {
  while (map.size > MAX_TRACKED) map.delete(map.keys().next().value as string);
}
