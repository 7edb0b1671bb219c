/** Percentiles from bucketed counts. */

/**
 * The upper bound of the bucket holding quantile `q` (0..1): `counts[i]`
 * samples were at most `boundsMs[i]`, the last bucket is unbounded (null).
 * Null without samples.
 */
export function quantileMs(boundsMs: readonly number[], counts: readonly number[], q: number): number | null {
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= rank) return i < boundsMs.length ? boundsMs[i]! : null;
  }
  return null;
}

export interface Percentiles {
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
}

/** p50, p90 and p99 of bucketed counts (see {@link quantileMs}). */
export function percentiles(boundsMs: readonly number[], counts: readonly number[]): Percentiles {
  return { p50: quantileMs(boundsMs, counts, 0.5), p90: quantileMs(boundsMs, counts, 0.9), p99: quantileMs(boundsMs, counts, 0.99) };
}
