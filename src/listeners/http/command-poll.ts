/**
 * Southbound for HTTP devices: a device long-polls `GET {prefix}commands?wait=S`
 * (Hono's time-til-disconnect pattern). While the request waits the device
 * is present in the device registry, so its mailbox drains into the poll:
 * the first command is the response (200, the payload as body, the command
 * id in `x-command-id` and `x-correlation-id`, where to answer in
 * `x-reply-to`). No command within `wait` seconds: 204. The command counts
 * as delivered once the response is written (DeviceMessage.onSettled).
 */
import type { ServerResponse } from 'node:http';
import type { DeviceMessage, DeviceRegistry, QoS, Subscriber } from '../../devices/registry.js';

/** The longest a poll may wait (seconds). */
export const MAX_WAIT_SECONDS = 60;

class PollSession implements Subscriber {
  private answered = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly clientId: string,
    readonly listener: string,
    readonly principal: string | undefined,
    private readonly res: ServerResponse,
    private readonly end: (s: PollSession) => void,
  ) {}

  start(waitMs: number): void {
    this.timer = setTimeout(() => this.finish(204), waitMs);
    this.res.once('close', () => this.finish(undefined));
  }

  /** Subscriber: the first message answers the poll; later ones are refused. */
  deliver(message: DeviceMessage, _qos: QoS): boolean {
    if (this.answered || this.res.destroyed) return false;
    this.finish(200, message);
    return true;
  }

  private finish(status: 200 | 204 | undefined, message?: DeviceMessage): void {
    if (this.answered) return;
    this.answered = true;
    clearTimeout(this.timer);
    // Out of the registry before anything else, so the mailbox does not hand this poll a second command.
    this.end(this);
    if (status === undefined || this.res.headersSent || this.res.destroyed) return;
    if (status === 204 || !message) {
      this.res.writeHead(204).end();
      return;
    }
    const headers: Record<string, string> = {
      'content-type': message.contentType ?? 'application/octet-stream',
      'content-length': String(message.payload.length),
      'x-topic': message.topic,
    };
    const id = message.headers?.['command-id'];
    if (id !== undefined) headers['x-command-id'] = id;
    if (message.correlationId !== undefined) headers['x-correlation-id'] = message.correlationId;
    if (message.replyTo !== undefined) headers['x-reply-to'] = message.replyTo;
    let written = false;
    this.res.once('finish', () => {
      written = true;
      message.onSettled?.(true); // the device fetched it
    });
    this.res.once('close', () => {
      if (!written) message.onSettled?.(false, 'the poll closed before the command was written');
    });
    this.res.writeHead(200, headers).end(message.payload);
  }
}

export class HttpCommandPolls {
  private readonly waiting = new Map<string, PollSession>();

  constructor(
    private readonly listener: string,
    private readonly devices: DeviceRegistry,
  ) {}

  /**
   * Holds `res` open for up to `waitSeconds` as `clientId`'s session; false
   * when the client id is present on another listener or connection (the
   * caller answers 409).
   */
  poll(clientId: string, principal: string | undefined, waitSeconds: number, res: ServerResponse): boolean {
    const holder = this.devices.lookup(clientId);
    if (holder && !(holder instanceof PollSession)) return false;
    const session = new PollSession(clientId, this.listener, principal, res, (s) => this.end(s));
    this.waiting.set(clientId, session);
    session.start(Math.min(waitSeconds, MAX_WAIT_SECONDS) * 1000);
    this.devices.connect(session);
    return true;
  }

  /** Listener.deliver: answers the waiting poll of `clientId` with `message`. */
  deliver(clientId: string, message: DeviceMessage): boolean {
    return this.waiting.get(clientId)?.deliver(message, message.qos) ?? false;
  }

  get count(): number {
    return this.waiting.size;
  }

  private end(s: PollSession): void {
    if (this.waiting.get(s.clientId) === s) this.waiting.delete(s.clientId);
    this.devices.disconnect(s);
  }
}
