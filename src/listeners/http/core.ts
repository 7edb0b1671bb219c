/** State shared by the HTTP ingress listener and its request handler. */
import type { Socket } from 'node:net';
import type { Guard, SecurityEvent } from '../../guard/guard.js';
import type { BanSubject } from '../../guard/bans.js';
import type { HttpListenerOptions } from '../../config/types.js';
import type { Admission, Pipeline } from '../listener.js';
import { IdleWaiters } from '../../util/idle-waiters.js';
import type { Limiter } from '../../guard/limiter.js';
import type { ListenerRateLimits } from '../../config/types.js';
import type { HttpCommandPolls } from './command-poll.js';

export class HttpCore {
  messagesIn = 0;
  messagesOut = 0;
  protocolErrors = 0;
  inflight = 0;
  /** The last admission per connection, keyed by credentials and client id. */
  readonly admissions = new WeakMap<Socket, { key: string; admission: Admission }>();
  private readonly drained = new IdleWaiters(() => this.inflight === 0);
  /** The listener's rate limits (guard.limits with its overrides). */
  readonly limiter: Limiter;

  constructor(
    readonly name: string,
    readonly options: HttpListenerOptions,
    readonly maxBodyBytes: number,
    readonly pipeline: Pipeline,
    private readonly guard: Guard,
    limits: ListenerRateLimits | undefined,
    /** Devices long-polling for commands (`GET {prefix}commands`). */
    readonly polls?: HttpCommandPolls,
  ) {
    this.limiter = guard.limiter(name, limits);
  }

  report(event: Omit<SecurityEvent, 'listener'>): void {
    this.guard.report({ ...event, listener: this.name });
  }

  /** True when the client id, address or principal is banned (guard/bans.ts); the refusal is reported. */
  banned(subject: BanSubject): boolean {
    const { principal, ...client } = subject;
    return (
      (this.guard.refuseClient(this.name, client, false) ??
        (principal !== undefined ? this.guard.refusePrincipal(this.name, principal, client) : undefined)) !== undefined
    );
  }

  /** While the gateway is overloaded (guard.overload): the Retry-After in seconds for a 503; undefined otherwise. */
  overloaded(): number | undefined {
    return this.guard.refuseOverloaded(this.name) ? this.guard.overloadRetryAfterSeconds : undefined;
  }

  /** Called when a request leaves the pipeline. */
  wake(): void {
    this.drained.check();
  }

  /** Resolves when no request is in the pipeline, or after `ms`. */
  idle(ms: number): Promise<void> {
    return this.drained.wait(ms);
  }
}
