/**
 * The bus over Redis pub/sub: each node subscribes to `bus:<node>` and to
 * `bus` (broadcasts). Pub/sub, not Streams: the bus carries notifications
 * whose loss costs a retry, not data (commands stay in their mailbox until
 * settled; `target: devices` is at-most-once toward devices on other nodes,
 * like a broker's QoS 0 fan-out), and PUBLISH tells the sender how many
 * nodes listened, which is the "is that node there" answer a send needs.
 * Streams would add a consumer group and trimming per node for a guarantee
 * the mailbox already gives.
 */
import type { Bus, BusHandler, BusMessage } from '../bus.js';
import type { RedisLink } from './link.js';

interface Frame {
  readonly from: string;
  readonly m: BusMessage;
}

export class RedisBus implements Bus {
  private unsubscribe: Array<() => void> = [];

  constructor(
    private readonly link: RedisLink,
    readonly nodeId: string,
  ) {}

  async send(nodeId: string, message: BusMessage): Promise<boolean> {
    return (await this.publish(this.link.key('bus', nodeId), message)) > 0;
  }

  async broadcast(message: BusMessage): Promise<number> {
    const n = await this.publish(this.link.key('bus'), message);
    return Math.max(0, n - (this.unsubscribe.length > 0 ? 1 : 0));
  }

  async listen(handler: BusHandler): Promise<void> {
    const receive = (text: string): void => {
      let frame: Frame;
      try {
        frame = JSON.parse(text) as Frame;
      } catch {
        return; // not ours: another program publishing on our prefix
      }
      if (frame.from === this.nodeId || typeof frame.m?.kind !== 'string') return;
      handler(frame.m, frame.from);
    };
    this.unsubscribe.push(await this.link.subscribe(this.link.key('bus', this.nodeId), receive));
    this.unsubscribe.push(await this.link.subscribe(this.link.key('bus'), receive));
  }

  async close(): Promise<void> {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
  }

  private async publish(channel: string, message: BusMessage): Promise<number> {
    try {
      return await this.link.cmd.publish(channel, JSON.stringify({ from: this.nodeId, m: message } satisfies Frame));
    } catch (err) {
      this.link.failed('bus.publish', err as Error);
      return 0;
    }
  }
}
