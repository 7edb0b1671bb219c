/**
 * What the dashboard shows that no counter holds: the top talkers (devices
 * and remote addresses by message count) and publish→outcome latency. It
 * samples only while a dashboard is open, so a gateway nobody watches pays
 * one branch per message.
 */
import type { Envelope, Outcome } from '../envelope/index.js';
import { percentiles, type Percentiles } from './quantile.js';

/** Distinct keys counted per interval; beyond it new keys are not counted (bounded memory under a flood of ids). */
const MAX_KEYS = 10_000;

/** Upper bounds (ms) of the latency buckets; a last bucket takes the rest. */
export const SAMPLE_BOUNDS_MS: readonly number[] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

export interface Talker {
  readonly key: string;
  readonly messages: number;
}

export interface SampleWindow {
  readonly devices: readonly Talker[];
  readonly addresses: readonly Talker[];
  /** Publish→outcome latency percentiles of accepted messages in the interval (ms, bucket upper bounds); null without samples. */
  readonly latencyMs: Percentiles;
}

export class MessageSampler {
  /** True while someone watches (the dashboard feed sets it). */
  active = false;
  private devices = new Map<string, number>();
  private addresses = new Map<string, number>();
  private latency = new Array<number>(SAMPLE_BOUNDS_MS.length + 1).fill(0);

  constructor(private readonly now: () => number = Date.now) {}

  record(env: Envelope, outcome: Outcome): void {
    if (!this.active) return;
    bump(this.devices, env.source.clientId || env.source.remoteAddress);
    bump(this.addresses, env.source.remoteAddress);
    if (outcome.kind !== 'accepted') return;
    const ms = this.now() - env.receivedAt;
    let b = 0;
    while (b < SAMPLE_BOUNDS_MS.length && ms > SAMPLE_BOUNDS_MS[b]!) b++;
    this.latency[b]!++;
  }

  /** The interval's figures; starts the next interval. */
  take(top: number): SampleWindow {
    const w: SampleWindow = {
      devices: topOf(this.devices, top),
      addresses: topOf(this.addresses, top),
      latencyMs: percentiles(SAMPLE_BOUNDS_MS, this.latency),
    };
    this.devices = new Map();
    this.addresses = new Map();
    this.latency.fill(0);
    return w;
  }
}

function bump(m: Map<string, number>, key: string): void {
  const n = m.get(key);
  if (n !== undefined) m.set(key, n + 1);
  else if (m.size < MAX_KEYS) m.set(key, 1);
}

function topOf(m: Map<string, number>, n: number): Talker[] {
  return [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([key, messages]) => ({ key, messages }));
}
