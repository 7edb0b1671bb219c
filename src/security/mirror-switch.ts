/**
 * Clients whose messages every route mirror copies, switched on and off at
 * run time from the admin API for troubleshooting one device. An entry may
 * expire; it lives in this process (a restart or another node does not see it).
 */

export interface MirroredClient {
  readonly clientId: string;
  /** Epoch ms when it was switched on. */
  readonly since: number;
  /** Epoch ms when it switches off by itself; absent: until switched off. */
  readonly expiresAt?: number;
}

export class MirrorSwitch {
  private readonly clients = new Map<string, MirroredClient>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Switches `clientId` on (again), for `ttlMs` when given. */
  enable(clientId: string, ttlMs?: number): MirroredClient {
    const since = this.now();
    const entry: MirroredClient = { clientId, since, ...(ttlMs !== undefined && { expiresAt: since + ttlMs }) };
    this.clients.set(clientId, entry);
    return entry;
  }

  /** Switches `clientId` off; the entry it had, or undefined when it was not on. */
  disable(clientId: string): MirroredClient | undefined {
    const entry = this.live(clientId);
    this.clients.delete(clientId);
    return entry;
  }

  has(clientId: string): boolean {
    return this.clients.size > 0 && this.live(clientId) !== undefined;
  }

  list(): MirroredClient[] {
    return [...this.clients.keys()].map((id) => this.live(id)).filter((e): e is MirroredClient => e !== undefined);
  }

  /** The entry unless it has expired (an expired one is forgotten here). */
  private live(clientId: string): MirroredClient | undefined {
    const entry = this.clients.get(clientId);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= this.now()) {
      this.clients.delete(clientId);
      return undefined;
    }
    return entry;
  }
}
