/**
 * What every abuser of `bench/abuse/run.mjs` shares. Each runs in a process
 * of its own (its busy loop must not slow the well-behaved clients it is
 * measured against), forked with one JSON argument:
 *
 *   { port, address, seconds, index }
 *
 * `address` is its loopback source address (127.0.0.x, one per abuser, so the
 * guard can tell it apart), `seconds` how long it may run: it stops by itself
 * then, or when the harness goes away. It tells the harness when the abuse
 * starts (`{ type: 'started', at }`, wall-clock ms, the clock the gateway's log
 * uses) and answers `{ cmd: 'report' }` with its counters.
 */
import { exitWithParent, serveIpc } from '../../lib/proc.mjs';

/**
 * @template {Record<string, unknown>} S
 * @param {S} stats what the abuser counts; sent back on `report`
 * @returns {{ opts: { port: number, address: string, seconds: number, index: number }, stats: S, stopped: () => boolean, started: () => void }}
 */
export function abuser(stats) {
  exitWithParent();
  const opts = JSON.parse(process.argv[2]);
  let over = false;
  let startedAt = 0;
  serveIpc({ report: () => ({ ...stats, startedAt, stopped: over }) });
  return {
    opts,
    stats,
    stopped: () => over,
    started: () => {
      startedAt = Date.now();
      // Bounded in time whatever the harness does: stop sending after `seconds`.
      setTimeout(() => (over = true), opts.seconds * 1000).unref();
      process.send?.({ type: 'started', at: startedAt });
    },
  };
}
