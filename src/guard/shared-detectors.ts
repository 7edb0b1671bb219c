/**
 * Violation scores and flapping counts shared by the gateway nodes through
 * the state layer's Counters (Redis backend), so an abuser spreading its
 * events or connects over several nodes is counted as one. The approach is
 * the shared rate counter's (shared-rate-counter.ts): every decision stays
 * local and synchronous, and every {@link FLUSH_MS} each node adds what it
 * saw per name to a shared window counter and learns the cluster's total.
 *
 * - Scores: what the other nodes added in the window is added to this
 *   node's decaying score of that name as it is learnt, so it decays from
 *   then on (up to one window late: slightly more than exact decay leaves).
 * - Flapping: connects are counted in fixed windows of `windowSeconds`; a
 *   cluster total over the limit bans, as the local sliding window does.
 *   A name is shared from its second local connect in a window on, so a
 *   device connecting once costs no round trip.
 *
 * A ban issued from a total is a dynamic ban like any other: written to the
 * ban store, so every node enforces it. A node learns the others' amounts
 * only when it has something of its own to add for the name: the node that
 * adds last in a window sees the sum and bans. Windows are cut by each
 * node's clock (the window is part of the key); skew between nodes can only
 * make a total smaller. While the store is unreachable each node counts
 * alone (its local detectors never stop).
 */
import type { Counters } from '../state/counters.js';
import type { GuardConfig } from '../config/types.js';
import { FLUSH_MS, SharedTally } from './shared-tally.js';
import type { BanRequest, FlapDetector, Scorer, ScoredKind } from './scoring.js';

/** Score windows: the others' weights are learnt within one (and charged once). */
const SCORE_WINDOW_MS = 10_000;

/** `kind:value` (kinds have no colon; an IPv6 value keeps its own). */
const nameOf = (kind: ScoredKind, value: string): string => `${kind}:${value}`;
function split(name: string): [ScoredKind, string] {
  const i = name.indexOf(':');
  return [name.slice(0, i) as ScoredKind, name.slice(i + 1)];
}

/**
 * Shares `scorer`'s and `flaps`' counts through `counters`; bans go to
 * `enforce` (with their source). Returns the function that stops it.
 */
export function shareDetectors(
  counters: Counters,
  scorer: Scorer,
  flaps: FlapDetector,
  flapping: () => GuardConfig['flapping'],
  enforce: (request: BanRequest, source: string) => void,
  now: () => number = Date.now,
): () => void {
  const scores = new SharedTally(
    counters,
    'score',
    () => SCORE_WINDOW_MS,
    (name, _total, othersNew) => {
      if (othersNew <= 0) return;
      const [kind, value] = split(name);
      const ban = scorer.addShared(kind, value, othersNew);
      if (ban) enforce(ban, 'scoring');
    },
    now,
  );
  const connects = new SharedTally(
    counters,
    'flap',
    () => flapping().windowSeconds * 1000,
    (name, total) => {
      const [kind, value] = split(name);
      const ban = flaps.clusterTotal(kind, value, total);
      if (ban) enforce(ban, 'flapping');
    },
    now,
  );
  scorer.onScore = (kind, value, weight) => scores.note(nameOf(kind, value), weight);
  flaps.onConnect = (kind, value, inWindow) => {
    // From the second connect in the window: the first is counted with it.
    if (inWindow >= 2) connects.note(nameOf(kind, value), inWindow === 2 ? 2 : 1);
  };
  const timer = setInterval(() => {
    void scores.flush();
    void connects.flush();
  }, FLUSH_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    scorer.onScore = undefined;
    flaps.onConnect = undefined;
  };
}
