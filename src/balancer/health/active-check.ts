/**
 * Active health checking: each endpoint is probed every interval plus a
 * random jitter. `unhealthyThreshold` failed probes in a row mark it
 * unhealthy, `healthyThreshold` passing ones in a row mark it healthy again.
 * Endpoints start healthy so a new pool takes traffic at once. The probe is
 * a function so the state machine is tested with an injected clock.
 */
import type { HealthCheckConfig } from '../../config/types.js';
import type { Clock, TimerHandle } from '../clock.js';

export interface HealthTarget {
  healthy: boolean;
}

/** Resolves true when the endpoint passed the probe; never rejects. */
export type Probe = (index: number) => Promise<boolean>;

export interface HealthEvents {
  onChange(index: number, healthy: boolean, reason: string): void;
}

interface Track {
  passes: number;
  fails: number;
  timer?: TimerHandle;
}

export class ActiveHealthChecker {
  private readonly tracks: Track[];
  private closed = false;

  constructor(
    private readonly config: HealthCheckConfig,
    private readonly targets: readonly HealthTarget[],
    private readonly probe: Probe,
    private readonly clock: Clock,
    private readonly events: HealthEvents,
    private readonly random: () => number = Math.random,
  ) {
    this.tracks = targets.map(() => ({ passes: 0, fails: 0 }));
  }

  start(): void {
    this.tracks.forEach((_, i) => this.schedule(i));
  }

  close(): void {
    this.closed = true;
    for (const t of this.tracks) if (t.timer) this.clock.clearTimeout(t.timer);
  }

  /** Records one probe's result and moves the state machine. */
  record(index: number, passed: boolean): void {
    const t = this.tracks[index]!;
    const target = this.targets[index]!;
    if (passed) {
      t.fails = 0;
      t.passes++;
      if (!target.healthy && t.passes >= this.config.healthyThreshold) {
        target.healthy = true;
        this.events.onChange(index, true, `${t.passes} health checks passed`);
      }
    } else {
      t.passes = 0;
      t.fails++;
      if (target.healthy && t.fails >= this.config.unhealthyThreshold) {
        target.healthy = false;
        this.events.onChange(index, false, `${t.fails} health checks failed`);
      }
    }
  }

  private schedule(index: number): void {
    if (this.closed) return;
    const t = this.tracks[index]!;
    const delay = this.config.intervalMs + Math.floor(this.random() * (this.config.jitterMs + 1));
    t.timer = this.clock.setTimeout(() => {
      delete t.timer;
      void this.probe(index).then(
        (ok) => {
          if (this.closed) return;
          this.record(index, ok);
          this.schedule(index);
        },
        () => {
          if (this.closed) return;
          this.record(index, false);
          this.schedule(index);
        },
      );
    }, delay);
    t.timer.unref?.();
  }
}

/** True when `status` matches one of the expected statuses (200 or "2xx"). */
export function statusExpected(status: number, expected: readonly (number | string)[]): boolean {
  for (const e of expected) {
    if (typeof e === 'number' ? e === status : Math.floor(status / 100) === Number(e[0])) return true;
  }
  return false;
}
