/** The bus in one process: nodes sharing an {@link EmbeddedHub} hand messages to each other's handlers on the next tick. */
import type { Bus, BusHandler, BusMessage } from '../bus.js';
import { EmbeddedHub } from './presence.js';

export class EmbeddedBus implements Bus {
  private readonly hub: EmbeddedHub;

  constructor(
    readonly nodeId: string,
    hub?: EmbeddedHub,
  ) {
    this.hub = hub ?? new EmbeddedHub();
  }

  async send(nodeId: string, message: BusMessage): Promise<boolean> {
    const h = this.hub.handlers.get(nodeId);
    if (!h) return false;
    const copy = structuredClone(message);
    queueMicrotask(() => h(copy, this.nodeId));
    return true;
  }

  async broadcast(message: BusMessage): Promise<number> {
    let n = 0;
    for (const id of this.hub.handlers.keys()) if (id !== this.nodeId && (await this.send(id, message))) n++;
    return n;
  }

  async listen(handler: BusHandler): Promise<void> {
    this.hub.handlers.set(this.nodeId, handler as (m: unknown, from: string) => void);
  }

  async close(): Promise<void> {
    this.hub.handlers.delete(this.nodeId);
  }
}
