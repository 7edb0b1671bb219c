/**
 * Overload protection, after Envoy's overload manager and HiveMQ's: the
 * event-loop delay (mean over the last interval), the heap in use (as a
 * share of V8's heap limit), the open connections and the messages in
 * flight are sampled every `intervalMs`. Two samples in a row above the
 * `refuse` watermarks the gateway refuses new connections and requests with
 * its protocols' "server busy"; above `throttle` it also stops reading from
 * publishers for `throttlePauseMs` at a time. Below `recoverRatio` × each
 * `refuse` watermark it returns to normal by itself. Each state change is
 * logged and counted.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { GuardConfig } from '../config/types.js';

export type OverloadConfig = GuardConfig['overload'];

/** 0 normal, 1 refusing new connections, 2 refusing and throttling publishers. */
export type OverloadState = 'normal' | 'refusing' | 'throttling';
export const OVERLOAD_LEVEL: Readonly<Record<OverloadState, number>> = { normal: 0, refusing: 1, throttling: 2 };

export interface OverloadSample {
  /** Event-loop delay over the last interval, mean, in ms (a mean: one long GC pause is no overload). */
  readonly loopDelayMs: number;
  /** Heap in use / V8 heap limit, 0..1. */
  readonly heapRatio: number;
  /** Open device connections over every listener (absent: not measured). */
  readonly connections?: number;
  /** Messages taken from devices and not yet settled (absent: not measured). */
  readonly inflight?: number;
}

/** The gateway's load counts, read at each sample. */
export type LoadCounts = () => Pick<OverloadSample, 'connections' | 'inflight'>;

/** Samples the process: one event-loop delay histogram, reset after each sample. */
export function processSampler(): { sample: () => OverloadSample; stop: () => void } {
  const h: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const limit = getHeapStatistics().heap_size_limit;
  return {
    sample: () => {
      const loopDelayMs = h.count > 0 ? h.mean / 1e6 : 0;
      h.reset();
      return { loopDelayMs, heapRatio: process.memoryUsage().heapUsed / limit };
    },
    stop: () => h.disable(),
  };
}

export class OverloadMonitor {
  private current: OverloadState = 'normal';
  /** The state the previous sample pointed to: a worse state is entered only when two samples in a row agree. */
  private previous: OverloadState = 'normal';
  private timer: NodeJS.Timeout | undefined;
  private sampler: { sample: () => OverloadSample; stop: () => void } | undefined;

  constructor(
    private config: OverloadConfig,
    private readonly onChange: (from: OverloadState, to: OverloadState, sample: OverloadSample) => void,
    private readonly sampleWith?: () => OverloadSample,
    private readonly load?: LoadCounts,
  ) {
    this.start();
  }

  get state(): OverloadState {
    return this.current;
  }

  get retryAfterSeconds(): number {
    return this.config.retryAfterSeconds;
  }

  get throttlePauseMs(): number {
    return this.current === 'throttling' ? this.config.throttlePauseMs : 0;
  }

  configure(config: OverloadConfig): void {
    this.config = config;
    this.stop();
    this.start();
    if (!config.enabled) this.move('normal', { loopDelayMs: 0, heapRatio: 0 });
  }

  /** Takes one sample and moves between states (the timer's; tests call it with an injected sampler). */
  check(): void {
    if (!this.config.enabled) return;
    const base = (this.sampleWith ?? this.sampler?.sample)?.();
    if (!base) return;
    const s: OverloadSample = this.load ? { ...base, ...this.load() } : base;
    const c = this.config;
    // Each measure against its watermarks; a watermark of 0 is off (counts only: the others are above 0).
    const measures: Array<readonly [number, { readonly refuse: number; readonly throttle: number }]> = [
      [s.loopDelayMs, c.eventLoopDelayMs],
      [s.heapRatio, c.heapUsedRatio],
      [s.connections ?? 0, c.connections],
      [s.inflight ?? 0, c.messagesInFlight],
    ];
    const over = (w: 'refuse' | 'throttle', share = 1): boolean => measures.some(([v, m]) => m[w] > 0 && v >= m[w] * share);
    let next: OverloadState;
    if (over('throttle')) next = 'throttling';
    else if (over('refuse')) next = 'refusing';
    // Hysteresis: back to normal only well below the watermark, so the state does not flap at its edge.
    else if (this.current !== 'normal' && over('refuse', c.recoverRatio)) next = 'refusing';
    else next = 'normal';
    const confirmed = OVERLOAD_LEVEL[next] <= OVERLOAD_LEVEL[this.current] || OVERLOAD_LEVEL[this.previous] >= OVERLOAD_LEVEL[next];
    this.previous = next;
    if (confirmed) this.move(next, s);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.sampler?.stop();
    this.sampler = undefined;
  }

  private start(): void {
    if (!this.config.enabled) return;
    if (!this.sampleWith) this.sampler = processSampler();
    this.timer = setInterval(() => this.check(), this.config.intervalMs);
    this.timer.unref();
  }

  private move(next: OverloadState, sample: OverloadSample): void {
    if (next === this.current) return;
    const from = this.current;
    this.current = next;
    this.onChange(from, next, sample);
  }
}
