/**
 * A persistent session written through to the session store while its
 * connection lives (SessionStore.hold, update), so that a gateway killed
 * meanwhile (`kill -9`) does not lose it: the device then resumes it with
 * Session Present 1, its subscriptions and the QoS 1/2 messages it was owed
 * (MQTT 5.0 §4.1; a crash ends the connection as far as the session is
 * concerned). Parked sessions are saved when their connection ends
 * (persistence.ts); this covers the time before.
 *
 * Subscriptions are written at SUBSCRIBE/UNSUBSCRIBE, messages as they are
 * owed, sent, released and acknowledged (outbound.ts numbers them). The
 * changes of one event-loop turn go to the store together and nothing on the
 * message path waits for them: MQTT asks for at-least-once delivery between
 * the connected parties, not for session state on disk (§4.1), so a PUBLISH
 * is not held back for a disk write; a crash loses at most the changes not
 * yet written (the store's last batch).
 */
import type { Logger } from 'pino';
import type { DeviceMessage, Subscriber } from '../../devices/registry.js';
import type { HeldSession, PendingMessage } from '../../state/sessions.js';
import type { OutboundJournal } from './outbound.js';
import { subscriptionsOf, type SessionContext } from './persistence.js';

export class SessionJournal implements OutboundJournal {
  private puts = new Map<number, PendingMessage<DeviceMessage>>();
  private dels: number[] = [];
  /** Numbers of the messages the store was given and not yet told are gone. */
  private readonly known = new Set<number>();
  private subscriptions = false;
  private scheduled = false;
  private stopped = false;

  constructor(
    private readonly cx: SessionContext,
    private readonly clientId: string,
    private readonly subscriber: Subscriber,
    private readonly log: Logger,
  ) {}

  /** True when the store can hold sessions (durable embedded, Redis). */
  static supported(cx: SessionContext): boolean {
    return typeof cx.store.hold === 'function' && typeof cx.store.update === 'function';
  }

  /** Writes the session as it is now (its subscriptions), replacing what the store had for the client id. */
  start(session: Omit<HeldSession, 'subscriptions'>): void {
    this.cx.store.hold!({ ...session, subscriptions: subscriptionsOf(this.cx, this.subscriber) }).catch((err: unknown) =>
      this.log.warn({ err }, 'session store: the session could not be written'),
    );
  }

  put(n: number, entry: PendingMessage<DeviceMessage>): void {
    if (this.stopped) return;
    this.puts.set(n, entry);
    this.schedule();
  }

  del(n: number): void {
    if (this.stopped) return;
    this.puts.delete(n);
    // A message the store never saw needs no deletion.
    if (!this.known.delete(n)) return;
    this.dels.push(n);
    this.schedule();
  }

  /** SUBSCRIBE or UNSUBSCRIBE changed the session's subscriptions. */
  subscriptionsChanged(): void {
    if (this.stopped) return;
    this.subscriptions = true;
    this.schedule();
  }

  /** The connection ended: what follows is the parked session's (or the session is gone). */
  stop(): void {
    this.stopped = true;
    this.puts.clear();
    this.dels = [];
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.stopped) return;
    const put = [...this.puts];
    for (const [n] of put) this.known.add(n);
    const change = {
      ...(this.subscriptions && { subscriptions: subscriptionsOf(this.cx, this.subscriber) }),
      ...(put.length > 0 && { put }),
      ...(this.dels.length > 0 && { del: this.dels }),
    };
    this.puts = new Map();
    this.dels = [];
    this.subscriptions = false;
    this.cx.store.update!(this.clientId, change).catch((err: unknown) => this.log.warn({ err }, 'session store: session changes could not be written'));
  }
}
