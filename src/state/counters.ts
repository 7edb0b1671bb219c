/**
 * Shared counters for rate limits and flapping detection across nodes:
 * fixed windows keyed by name. They are approximate on purpose (exactness
 * would cost a round trip per decision under a lock):
 * - a fixed window lets up to twice the limit through across a window edge;
 * - windows are cut by each node's clock, so skew moves the edge;
 * - while the shared store is unreachable each node counts alone (the total
 *   seen is a lower bound: at most N× the limit passes across N nodes).
 */
export interface Counters {
  /**
   * Adds `n` to `key`'s counter in the current window of `windowMs` and
   * resolves to the window's total across all nodes (including this add).
   */
  add(key: string, n: number, windowMs: number): Promise<number>;
}
