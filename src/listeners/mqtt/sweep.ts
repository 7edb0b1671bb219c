/**
 * The sweep of a session store shared by nodes (Redis): what a node that
 * died, or stopped and never came back, left waiting there is finished by
 * any live node, once.
 *
 * - Adopt: the sessions a dead node's connections held (journal.ts) become
 *   stored sessions whose expiry and Will delay run from now
 *   (SessionStore.adoptOrphans); a restarted node adopts its own before it
 *   accepts connections, as the durable embedded store does when it opens.
 * - Wills: every delayed Will whose time came is claimed and published
 *   (§3.1.3.2.2), whichever node left it; the claim is atomic, so a Will
 *   goes out once although every node sweeps, and a client that reconnected
 *   first took its session, and so its Will, out of the store [MQTT-3.1.3-9].
 * - Expiry: every stored session whose expiry passed is removed, its Will
 *   (if still waiting) published, also with no device ever returning.
 *
 * The Will Delay and Session Expiry Intervals are whole seconds, so a sweep
 * a second keeps their granularity; each sweep is a few Redis scripts.
 */
import type { ListenerShared } from './session.js';
import { expireDue } from './persistence.js';
import { publishStoredWill } from './will.js';

const SWEEP_MS = 1000;

/** Stores whose own orphans were adopted (once per gateway, before its first listener accepts). */
const adoptedOwn = new WeakSet<object>();

export class SharedSessionSweep {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly shared: ListenerShared,
    private readonly listener: string,
  ) {}

  /** True when the store is shared by nodes (it can adopt their sessions). */
  static needed(shared: ListenerShared): boolean {
    return typeof shared.sessions.store.adoptOrphans === 'function';
  }

  /** Adopts this node's sessions left by its previous process (once per store), then sweeps every second. */
  async start(): Promise<void> {
    const store = this.shared.sessions.store;
    if (!adoptedOwn.has(store)) {
      adoptedOwn.add(store);
      await this.adopt(true);
    }
    this.timer = setInterval(() => void this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async adopt(own: boolean): Promise<void> {
    const log = this.shared.ctx.logger;
    try {
      const n = (await this.shared.sessions.store.adoptOrphans?.(own)) ?? 0;
      if (n > 0) log.info({ sessions: n, own }, `adopted ${n} persistent session${n === 1 ? '' : 's'} of stopped nodes`);
    } catch (err) {
      // Its own are not tried again: once this node accepts connections, what it holds is not an orphan.
      const then = own ? 'its own are left until their devices resume them' : 'retried at the next sweep';
      log.warn({ err, own }, `session sweep: adopting the sessions of stopped nodes failed; ${then}`);
    }
  }

  /** One pass; skipped while the previous one runs (a slow or unreachable store). */
  private async sweep(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { shared } = this;
    const cx = shared.sessions;
    try {
      await this.adopt(false);
      for (const d of (await cx.store.claimDueWills?.(Date.now())) ?? []) publishStoredWill(shared, d.listener ?? this.listener, d.clientId, d.will);
      await expireDue(cx);
    } catch (err) {
      cx.logger.warn({ err }, 'session sweep: the session store failed; retried at the next sweep');
    } finally {
      this.running = false;
    }
  }
}
