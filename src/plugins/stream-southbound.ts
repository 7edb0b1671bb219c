/**
 * Southbound delivery to a plugin listener's peer: the device registry's
 * Subscriber for one identified peer. A message (a command from the API, a
 * script's publish(), a `target: devices` route) is handed to the plugin's
 * `StreamSession.deliver`, which encodes it into the protocol's frame and
 * settles it — once written for fire-and-forget, or on the device's
 * acknowledgement frame. DeviceMessage.onSettled is called exactly once:
 * what the peer took and did not settle before it closed settles false.
 */
import type { DeviceMessage, QoS, Subscriber } from '../devices/registry.js';
import type { StreamSession } from './stream-contract.js';

export interface SubscriberHooks {
  readonly session: () => StreamSession | undefined;
  /** The client id connected again elsewhere: close this peer. */
  readonly closeForTakeOver: () => void;
  /** The plugin's deliver threw: close this peer and report it. */
  readonly failed: (err: unknown, where: string) => void;
}

export class StreamSubscriber implements Subscriber {
  /** Settles (false) each message taken and not yet settled. */
  private readonly unsettled = new Set<() => void>();
  private closed = false;

  constructor(
    readonly clientId: string,
    readonly listener: string,
    readonly principal: string | undefined,
    private readonly hooks: SubscriberHooks,
  ) {}

  deliver(message: DeviceMessage, qos: QoS): boolean {
    const session = this.hooks.session();
    if (this.closed || !session?.deliver) return false;
    let done = false;
    const settle = (delivered: boolean, reason?: string): void => {
      if (done) return;
      done = true;
      this.unsettled.delete(lost);
      message.onSettled?.(delivered, reason);
    };
    const lost = (): void => settle(false, 'the connection closed before the device took the message');
    this.unsettled.add(lost);
    let taken = false;
    try {
      taken = session.deliver({
        address: message.topic,
        payload: message.payload,
        qos,
        ...(message.contentType !== undefined && { contentType: message.contentType }),
        ...(message.headers !== undefined && { headers: message.headers }),
        ...(message.correlationId !== undefined && { correlationId: message.correlationId }),
        ...(message.replyTo !== undefined && { replyTo: message.replyTo }),
        ...(message.expiresAt !== undefined && { expiresAt: message.expiresAt }),
        settle,
      });
    } catch (err) {
      this.hooks.failed(err, 'deliver');
    }
    // A plugin that settled the message took it, whatever it returned.
    if (taken || done) return true;
    // Not taken: the caller still owns the message and its settlement.
    done = true;
    this.unsettled.delete(lost);
    return false;
  }

  takeOver(): void {
    this.hooks.closeForTakeOver();
  }

  /** The peer closed: what it took and did not settle is not delivered. */
  close(): void {
    this.closed = true;
    for (const lost of [...this.unsettled]) lost();
  }
}
