/**
 * Makes every message that ends rejected, unavailable or without a route
 * visible at `info`: one line per failure, at most `perSecond` lines a
 * second; the lines suppressed beyond that are counted and the next line
 * says how many. The same lines feed the admin event log. At `debug`,
 * every message decision gets its own line.
 */
import type { Logger } from 'pino';
import type { Envelope, Outcome } from '../envelope/index.js';
import type { EventLog } from './events.js';

export interface FailureLogOptions {
  /** Failure lines (and events) per second at most; read at each failure, so a reload takes effect. */
  readonly perSecond: () => number;
  /** The name of the route a message matched (without counting a hit). */
  readonly routeOf: (env: Envelope) => string | undefined;
  readonly now?: () => number;
}

/** An endpoint's origin in a failure text ("http://10.0.0.1:8080: connect ECONNREFUSED …", "back-end https://b answered 503"). */
const URL_IN_REASON = /\bhttps?:\/\/[^\s/:]+(?::\d+)?/;

export class FailureLog {
  private windowStart = 0;
  private inWindow = 0;
  private suppressed = 0;
  private readonly now: () => number;

  constructor(
    private readonly logger: Logger,
    private readonly events: EventLog,
    private readonly options: FailureLogOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  record(env: Envelope, outcome: Outcome): void {
    if (outcome.kind === 'accepted') {
      if (this.logger.isLevelEnabled('debug')) this.logger.debug(this.fields(env, outcome), 'message accepted');
      return;
    }
    const t = this.now();
    if (t - this.windowStart >= 1000) {
      this.windowStart = t;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.options.perSecond()) {
      this.suppressed++;
      return;
    }
    this.inWindow++;
    const fields = this.fields(env, outcome);
    const suppressed = this.suppressed;
    this.suppressed = 0;
    const noRoute = outcome.code === 'TG_ERR_NO_ROUTE';
    this.logger.info({ ...fields, ...(suppressed > 0 && { suppressed }) }, noRoute ? 'message without a route' : `message ${outcome.kind}`);
    this.events.push({
      category: 'failure',
      kind: noRoute ? 'no-route' : outcome.kind,
      listener: env.listener,
      clientId: env.source.clientId,
      remoteAddress: env.source.remoteAddress,
      detail: `${outcome.code}: ${outcome.detail ?? outcome.reason}`,
      address: env.address,
      status: outcome.status,
      ...(fields.route !== undefined && { route: fields.route }),
      ...(suppressed > 0 && { suppressed }),
    });
  }

  private fields(env: Envelope, outcome: Outcome): Record<string, unknown> {
    const route = this.options.routeOf(env);
    const base: Record<string, unknown> = {
      event: 'message',
      messageId: env.id,
      listener: env.listener,
      clientId: env.source.clientId,
      remoteAddress: env.source.remoteAddress,
      address: env.address,
      ...(route !== undefined && { route }),
      outcome: outcome.kind,
      status: outcome.status,
    };
    if (outcome.kind === 'accepted') return base;
    const detail = outcome.detail ?? outcome.reason;
    const endpoint = URL_IN_REASON.exec(detail)?.[0];
    return { ...base, code: outcome.code, reason: detail, ...(endpoint !== undefined && { endpoint }) };
  }
}
