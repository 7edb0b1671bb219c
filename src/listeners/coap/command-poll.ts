/**
 * Southbound for CoAP devices that poll instead of observing: a GET without
 * Observe on `commands` (`coap://gateway/commands?wait=S`) fetches the
 * device's next queued command. While the request waits (`wait` seconds, at
 * most 60; a short grace without it, for the mailbox to answer) the device
 * is present in the device registry, so its mailbox drains into the poll.
 *
 * A command is answered with 2.05 Content: the payload, its Content-Format,
 * Max-Age = the seconds left of its TTL, and the address to answer on as
 * Location-Path (RFC 7252 §5.10.7: a relative URI; the device POSTs or PUTs
 * its response there). No command: 4.04 Not Found. To a CON GET the answer
 * is a separate CON response (§5.2.2) so that the device's ACK says it has
 * the command (delivered); RST or no ACK puts the command back in the
 * queue. To a NON GET it is a NON response, delivered once sent.
 */
import type { DeviceMessage, DeviceRegistry, QoS, Subscriber } from '../../devices/registry.js';
import { coapFormatForMediaType } from '../../envelope/index.js';
import type { CoapOption } from './codec.js';
import * as C from './codes.js';
import type { RequestContext, ResponseSpec } from './types.js';
import { OPT, uint } from './options.js';

/** The resource a device GETs for its next command. */
export const POLL_ADDRESS = 'commands';
/** The longest a poll may wait (seconds). */
export const MAX_WAIT_SECONDS = 60;
/** A poll without `wait` is held this long: the mailbox answers asynchronously (a remote store needs a round trip). */
const GRACE_MS = 250;

/** What polls need of the listener's core (core.ts): answering a request, now or as a separate response. */
export interface PollResponder {
  readonly name: string;
  readonly separate: { add(ctx: RequestContext, now: number): void };
  goSeparate(ctx: RequestContext): void;
  respond(ctx: RequestContext, spec: ResponseSpec, held?: undefined, outcome?: (r: 'ack' | 'rst' | 'timeout' | 'cancelled' | 'sent') => void): void;
}

class CoapPoll implements Subscriber {
  answered = false;
  timer: NodeJS.Timeout | undefined;

  constructor(
    readonly clientId: string,
    readonly listener: string,
    readonly principal: string | undefined,
    readonly ctx: RequestContext,
    private readonly answer: (poll: CoapPoll, message?: DeviceMessage) => void,
  ) {}

  /** Subscriber: the first message answers the poll; later ones are refused (they stay queued). */
  deliver(message: DeviceMessage, _qos: QoS): boolean {
    return this.end(message);
  }

  end(message?: DeviceMessage): boolean {
    if (this.answered) return false;
    this.answered = true;
    clearTimeout(this.timer);
    this.answer(this, message);
    return true;
  }
}

export class CoapCommandPolls {
  private readonly waiting = new Map<string, CoapPoll>();

  constructor(
    private readonly core: PollResponder,
    private readonly devices: DeviceRegistry,
  ) {}

  /** Holds the GET as the device's session; false when its client id is held by another session (an observation, another listener). */
  poll(ctx: RequestContext): boolean {
    const { peer, req } = ctx;
    const holder = this.devices.lookup(peer.clientId);
    if (holder && !(holder instanceof CoapPoll)) return false;
    const wait = Number(new URLSearchParams(req.query ?? '').get('wait') ?? '0');
    const waitMs = Number.isFinite(wait) && wait > 0 ? Math.min(wait, MAX_WAIT_SECONDS) * 1000 : GRACE_MS;
    const poll = new CoapPoll(peer.clientId, this.core.name, peer.identity?.principal, ctx, (p, m) => this.answer(p, m));
    const previous = this.waiting.get(peer.clientId);
    this.waiting.set(peer.clientId, poll);
    previous?.end(); // a newer GET from the same device replaces the older one
    poll.timer = setTimeout(() => poll.end(), waitMs);
    // A slow answer is acknowledged first (RFC 7252 §5.2.2), as for the pipeline.
    if (ctx.confirmable) this.core.separate.add(ctx, Date.now());
    this.devices.connect(poll);
    return true;
  }

  /** Listener.deliver: answers the waiting poll of `clientId`. */
  deliver(clientId: string, message: DeviceMessage): boolean {
    return this.waiting.get(clientId)?.deliver(message, message.qos) ?? false;
  }

  /** Listener stopping: every waiting poll is told to come back later. */
  clear(): void {
    for (const p of [...this.waiting.values()]) {
      p.answered = true;
      clearTimeout(p.timer);
      this.forget(p);
      this.core.respond(p.ctx, {
        code: C.SERVICE_UNAVAILABLE,
        payload: Buffer.from('listener is shutting down'),
        options: [{ number: OPT.MAX_AGE, value: uint(1) }],
      });
    }
  }

  private forget(p: CoapPoll): void {
    if (this.waiting.get(p.clientId) === p) this.waiting.delete(p.clientId);
    this.devices.disconnect(p);
  }

  private answer(p: CoapPoll, message: DeviceMessage | undefined): void {
    // Out of the registry first, so the mailbox does not hand this poll a second command.
    this.forget(p);
    const { ctx } = p;
    if (!message) {
      this.core.respond(ctx, { code: C.NOT_FOUND, payload: Buffer.from('no command queued') });
      return;
    }
    const options: CoapOption[] = [];
    if (message.expiresAt !== undefined) {
      options.push({ number: OPT.MAX_AGE, value: uint(Math.max(0, Math.ceil((message.expiresAt - Date.now()) / 1000))) });
    }
    for (const segment of (message.replyTo ?? '').split('/')) {
      if (segment !== '') options.push({ number: OPT.LOCATION_PATH, value: Buffer.from(segment, 'utf8') });
    }
    const cf = message.contentType !== undefined ? coapFormatForMediaType(message.contentType) : undefined;
    // The device's ACK of a CON response is its acknowledgement of the command (RFC 7252 §4.2).
    if (ctx.confirmable && ctx.exchange.state === 'pending') this.core.goSeparate(ctx);
    this.core.respond(ctx, { code: C.CONTENT, payload: message.payload, options, ...(cf !== undefined && { contentFormat: cf }) }, undefined, (r) =>
      message.onSettled?.(r === 'ack' || r === 'sent', r === 'ack' || r === 'sent' ? undefined : `response ${r === 'rst' ? 'reset' : 'not acknowledged'}`),
    );
  }
}
