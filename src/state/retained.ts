/**
 * Storage contract for retained messages (MQTT 5.0 §3.3.1.3): the last
 * retained message of each topic, delivered to new subscriptions whose
 * filter matches. `M` is the caller's message type (state/ knows nothing
 * above envelope/).
 */

/** Outcome of {@link RetainedStore.set}. */
export type RetainResult = 'stored' | 'full';

export interface RetainedStore<M> {
  /** Loads what a previous process left (durable stores); before any other call. */
  open?(): Promise<void>;
  /**
   * Replaces the retained message of `topic`. A new topic beyond the
   * store's bounds is refused ('full'); replacing an existing one is not.
   */
  set(topic: string, message: M, bytes: number): Promise<RetainResult>;
  /** Deletes the retained message of `topic` (an empty retained payload, [MQTT-3.3.1-6]); true when there was one. */
  delete(topic: string): Promise<boolean>;
  /** The retained messages whose topic matches `filter` (MQTT wildcards; `$` topics only for explicit filters [MQTT-4.7.2-1]). */
  match(filter: string): Promise<M[]>;
  count(): Promise<number>;
  close(): Promise<void>;
}
