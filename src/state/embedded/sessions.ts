/**
 * In-memory session store: sessions live as long as the process. The
 * durable embedded store (durable-sessions.ts) keeps one of these for its
 * reads and writes through to disk.
 */
import type { DueWill, EnqueueResult, PendingMessage, QueueLimits, SessionStore, StoredSession, StoredWill } from '../sessions.js';

interface Entry<M> {
  session: StoredSession<M>;
  pending: Array<PendingMessage<M>>;
  bytes: number;
}

export class MemorySessionStore<M> implements SessionStore<M> {
  private readonly sessions = new Map<string, Entry<M>>();

  async save(session: StoredSession<M>): Promise<void> {
    const pending = [...session.pending];
    this.sessions.set(session.clientId, { session, pending, bytes: pending.reduce((n, p) => n + p.bytes, 0) });
  }

  async take(clientId: string): Promise<StoredSession<M> | undefined> {
    const e = this.sessions.get(clientId);
    if (!e) return undefined;
    this.sessions.delete(clientId);
    return { ...e.session, pending: e.pending };
  }

  async enqueue(clientId: string, message: PendingMessage<M>, limits: QueueLimits): Promise<EnqueueResult> {
    const e = this.sessions.get(clientId);
    if (!e) return 'no-session';
    if (e.pending.length + 1 > limits.maxMessages || e.bytes + message.bytes > limits.maxBytes) return 'full';
    e.pending.push(message);
    e.bytes += message.bytes;
    return 'queued';
  }

  async expire(now: number): Promise<Array<StoredSession<M>>> {
    const out: Array<StoredSession<M>> = [];
    for (const [id, e] of this.sessions) {
      if (e.session.expiresAt > now) continue;
      this.sessions.delete(id);
      out.push({ ...e.session, pending: e.pending });
    }
    return out;
  }

  /** Removes a stored session's delayed Will; the session as it is now without its messages, or undefined. */
  dropWill(clientId: string): Omit<StoredSession<M>, 'pending'> | undefined {
    const e = this.sessions.get(clientId);
    if (!e) return undefined;
    const { will: _w, pending: _p, ...rest } = e.session;
    e.session = { ...rest, pending: [] };
    return rest;
  }

  async clearWill(clientId: string): Promise<void> {
    this.dropWill(clientId);
  }

  async claimWill(clientId: string): Promise<StoredWill | undefined> {
    const will = this.sessions.get(clientId)?.session.will;
    if (will) this.dropWill(clientId);
    return will;
  }

  async claimDueWills(now: number): Promise<DueWill[]> {
    const out: DueWill[] = [];
    for (const [clientId, { session }] of this.sessions) {
      if (!session.will || session.will.at > now) continue;
      out.push({ clientId, will: session.will, ...(session.listener !== undefined && { listener: session.listener }) });
      this.dropWill(clientId);
    }
    return out;
  }

  /** The stored sessions without their messages. */
  sessionsWithoutMessages(): Array<Omit<StoredSession<M>, 'pending'>> {
    return [...this.sessions.values()].map(({ session: { pending: _p, ...rest } }) => rest);
  }

  async count(): Promise<number> {
    return this.sessions.size;
  }

  async close(): Promise<void> {
    this.sessions.clear();
  }
}
