/**
 * Passive outlier detection (after Envoy's consecutive-5xx detector):
 * `consecutiveFailures` 5xx answers or connection failures in a row eject an
 * endpoint for baseEjectionTime × (times ejected), capped by
 * maxEjectionTime; it returns by itself when that time is up. At most
 * maxEjectionPercent of the pool is ejected at once, but always at least one
 * endpoint may be. The ejection multiplier shrinks by one for every base
 * ejection time an endpoint spends back in service.
 */
import type { OutlierDetectionConfig } from '../../config/types.js';
import type { Clock, TimerHandle } from '../clock.js';

export interface OutlierTarget {
  ejected: boolean;
  ejections: number;
}

interface Track {
  consecutive: number;
  multiplier: number;
  returnedAt: number;
  timer?: TimerHandle;
}

export interface OutlierEvents {
  onEject(index: number, durationMs: number): void;
  onReturn(index: number): void;
}

export class OutlierDetector {
  private readonly tracks: Track[];

  constructor(
    private readonly config: OutlierDetectionConfig,
    private readonly targets: readonly OutlierTarget[],
    private readonly clock: Clock,
    private readonly events: OutlierEvents,
  ) {
    this.tracks = targets.map(() => ({ consecutive: 0, multiplier: 0, returnedAt: 0 }));
  }

  onSuccess(index: number): void {
    this.tracks[index]!.consecutive = 0;
  }

  onFailure(index: number): void {
    if (!this.config.enabled) return;
    const t = this.tracks[index]!;
    t.consecutive++;
    const target = this.targets[index]!;
    if (target.ejected || t.consecutive < this.config.consecutiveFailures) return;
    if (this.ejectedCount() >= this.maxEjected()) return;
    const now = this.clock.now();
    if (t.multiplier > 0 && t.returnedAt > 0) {
      t.multiplier = Math.max(0, t.multiplier - Math.floor((now - t.returnedAt) / this.config.baseEjectionTimeMs));
    }
    t.multiplier++;
    t.consecutive = 0;
    const duration = Math.min(this.config.baseEjectionTimeMs * t.multiplier, this.config.maxEjectionTimeMs);
    target.ejected = true;
    target.ejections++;
    t.timer = this.clock.setTimeout(() => this.restore(index), duration);
    t.timer.unref?.();
    this.events.onEject(index, duration);
  }

  /** The most endpoints that may be ejected at once: the configured share, but at least one. */
  maxEjected(): number {
    return Math.max(1, Math.floor((this.targets.length * this.config.maxEjectionPercent) / 100));
  }

  close(): void {
    for (const t of this.tracks) if (t.timer) this.clock.clearTimeout(t.timer);
  }

  private ejectedCount(): number {
    let n = 0;
    for (const t of this.targets) if (t.ejected) n++;
    return n;
  }

  private restore(index: number): void {
    const t = this.tracks[index]!;
    delete t.timer;
    t.returnedAt = this.clock.now();
    t.consecutive = 0;
    this.targets[index]!.ejected = false;
    this.events.onReturn(index);
  }
}
