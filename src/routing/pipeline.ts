/**
 * The pipeline: the router joining listeners (downstream) to the balancer
 * (upstream). For one Envelope: match a route → ask its script, or use the
 * route's static decision → carry out each decision → fold the results into
 * one Outcome. Listeners never see pools; the balancer never sees Envelopes.
 */
import type { Logger } from 'pino';
import { accepted, rejected, unavailable, type Envelope, type Outcome, type Reply } from '../envelope/index.js';
import type { Admission, ClientInfo, Pipeline } from '../envelope/index.js';
import type { Balancer, UpstreamRequest, UpstreamResult } from '../balancer/types.js';
import type { DeviceRegistry, QoS } from '../devices/registry.js';
import type { Metrics, LocalCounter } from '../observability/metrics.js';
import { toBytes, type Decision, type RouteDecision, type PublishDecision } from './decision.js';
import type { CompiledRoute, RouteTable } from './route-table.js';
import type { ScriptHost } from './script-host.js';
import { compilePathTemplate } from './path-template.js';
import { IdleWaiters } from '../util/idle-waiters.js';
import { transcodedBody, withDecoded } from './transcode.js';
import { ThinggateError } from '../errors.js';

/** Everything a configuration determines; a reload swaps the whole object at once. */
export interface PipelineState {
  readonly routes: RouteTable;
  readonly balancer: Balancer;
  readonly scripts?: ScriptHost;
}

const QOS_BY_DELIVERY: Record<Envelope['delivery'], QoS> = { 'at-most-once': 0, 'at-least-once': 1, 'exactly-once': 2 };

const OUTCOMES_METRIC = 'thinggate_downstream_messages_total';
const OUTCOMES_HELP = 'Messages handled, by listener and outcome';

/** Longest back-end error body quoted in a rejection reason. */
const REASON_BODY_MAX = 200;

export class GatewayPipeline implements Pipeline {
  private state: PipelineState;
  private readonly metrics: Metrics;
  /** Outcome counters by listener and outcome kind, bound once (no label hashing per message). */
  private readonly outcomes = new Map<string, Partial<Record<Outcome['kind'], LocalCounter>>>();
  private inflight = 0;
  private readonly drained = new IdleWaiters(() => this.inflight === 0);

  constructor(
    state: PipelineState,
    private readonly devices: DeviceRegistry,
    private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.state = state;
    this.metrics = metrics;
    metrics.counter(OUTCOMES_METRIC, OUTCOMES_HELP, ['listener', 'outcome']);
  }

  /** Swaps in a new configuration's routes, pools and scripts; messages already in flight finish on the old ones. */
  swap(state: PipelineState): PipelineState {
    const old = this.state;
    this.state = state;
    return old;
  }

  get current(): PipelineState {
    return this.state;
  }

  async handle(env: Envelope): Promise<Outcome> {
    this.inflight++;
    let outcome: Outcome;
    try {
      outcome = await this.route(env, this.state);
    } catch (err) {
      // Only an internal invariant failing gets here; the device still gets an answer.
      this.logger.error({ err, messageId: env.id }, 'pipeline failed unexpectedly');
      outcome = unavailable('TG_ERR_INTERNAL', 'internal error');
    } finally {
      if (--this.inflight === 0) this.drained.check();
    }
    this.countOutcome(env.listener, outcome.kind);
    return outcome;
  }

  private countOutcome(listener: string, kind: Outcome['kind']): void {
    let byKind = this.outcomes.get(listener);
    if (!byKind) this.outcomes.set(listener, (byKind = {}));
    (byKind[kind] ??= this.metrics.localCounter(OUTCOMES_METRIC, OUTCOMES_HELP, { listener, outcome: kind })).inc();
  }

  async admit(client: ClientInfo): Promise<Admission> {
    const scripts = this.state.scripts;
    if (!scripts) return { ok: true };
    try {
      return await scripts.onConnect(client);
    } catch (err) {
      this.logger.error({ err, clientId: client.clientId }, 'admission failed unexpectedly');
      return { ok: false, status: 503, reason: 'admission unavailable' };
    }
  }

  /** Resolves when no message is in the pipeline, or after `timeoutMs` when given. */
  idle(timeoutMs?: number): Promise<void> {
    return this.drained.wait(timeoutMs);
  }

  /** Synchronous up to the dispatch, so a static route costs no extra promise of its own. */
  private route(env: Envelope, state: PipelineState): Promise<Outcome> | Outcome {
    if (env.expiresAt !== undefined && env.expiresAt <= Date.now()) {
      return accepted(200); // [MQTT-3.3.2-5]-style: an expired message is discarded, not an error
    }
    const route = state.routes.match(env);
    if (!route) return rejected(404, 'TG_ERR_NO_ROUTE', `no route matches address '${env.address}'`);
    switch (route.kind) {
      case 'devices':
        return this.publish(env, {
          action: 'publish',
          topic: env.address,
          payload: env.payload,
          qos: QOS_BY_DELIVERY[env.delivery],
          ...(env.contentType !== undefined && { contentType: env.contentType }),
          headers: env.headers,
        });
      case 'pool':
        return this.dispatch(env, route, STATIC_ROUTE, state);
      case 'script':
        return this.scripted(env, route, state);
    }
  }

  private async scripted(env: Envelope, route: CompiledRoute, state: PipelineState): Promise<Outcome> {
    const scripts = state.scripts;
    if (!scripts) return unavailable('TG_ERR_INTERNAL', 'script host not running');
    const result = await scripts.onMessage(route.config.script!, withDecoded(env, route));
    if (!result.ok) {
      return result.code === 'TG_ERR_SCRIPT_THROTTLED'
        ? rejected(429, result.code, result.reason)
        : rejected(500, result.code, result.reason);
    }
    return this.execute(env, route, result.decisions, state);
  }

  /** Carries out a script's decisions (concurrently) and folds their outcomes. */
  private async execute(env: Envelope, route: CompiledRoute, decisions: readonly Decision[], state: PipelineState): Promise<Outcome> {
    if (decisions.length === 1) return this.one(env, route, decisions[0]!, state);
    if (decisions.length === 0) return accepted(200);
    const outcomes = await Promise.all(decisions.map((d) => this.one(env, route, d, state)));
    return fold(outcomes);
  }

  private one(env: Envelope, route: CompiledRoute, d: Decision, state: PipelineState): Promise<Outcome> | Outcome {
    switch (d.action) {
      case 'route':
        return this.dispatch(env, route, d, state);
      case 'reply': {
        const { bytes, contentType } = toBytes(d.payload);
        const ct = d.contentType ?? contentType;
        return accepted(d.code ?? 200, { payload: bytes, status: d.code ?? 200, ...(ct !== undefined && { contentType: ct }) });
      }
      case 'drop':
        this.logger.debug({ messageId: env.id, reason: d.reason }, 'message dropped by script');
        return { kind: 'accepted', status: 200, dropped: true };
      case 'reject':
        return rejected(d.code ?? 400, 'TG_ERR_SCRIPT_REJECTED', d.reason);
      case 'publish':
        return this.publish(env, d);
      default:
        return rejected(500, 'TG_ERR_SCRIPT_INVALID_DECISION', `unknown action '${(d as { action?: unknown }).action}'`);
    }
  }

  private publish(env: Envelope, d: PublishDecision): Outcome {
    const { bytes, contentType } = toBytes(d.payload);
    const ct = d.contentType ?? contentType;
    this.devices.publish(
      {
        topic: d.topic,
        payload: bytes,
        qos: d.qos ?? 0,
        retain: d.retain ?? false,
        ...(ct !== undefined && { contentType: ct }),
        ...(d.headers !== undefined && { headers: d.headers }),
        ...(env.correlationId !== undefined && { correlationId: env.correlationId }),
        ...(env.replyTo !== undefined && { replyTo: env.replyTo }),
        ...(env.expiresAt !== undefined && { expiresAt: env.expiresAt }),
      },
      env.source.clientId,
    );
    return accepted(200);
  }

  private dispatch(env: Envelope, route: CompiledRoute, d: RouteDecision, state: PipelineState): Promise<Outcome> | Outcome {
    const pool = d.pool ?? route.config.pool;
    if (pool === undefined || !state.balancer.hasPool(pool)) {
      return rejected(500, 'TG_ERR_SCRIPT_INVALID_DECISION', `route() names no known pool ('${String(pool)}')`);
    }
    const wantsReply = d.reply ?? route.config.request.reply;
    let request: UpstreamRequest;
    try {
      request = buildRequest(env, route, d, pool, wantsReply);
    } catch (err) {
      if (!(err instanceof ThinggateError) || (err.code !== 'TG_ERR_CODEC_DECODE' && err.code !== 'TG_ERR_CODEC_ENCODE')) throw err;
      this.logger.debug({ messageId: env.id, err: err.message }, 'codec failed on the message');
      return rejected(err.status ?? 400, err.code, err.message);
    }
    if (!wantsReply) return state.balancer.dispatch(request).then(toPlainOutcome);
    return this.replied(env, route, request, state);
  }

  /** A dispatch whose back-end answer is the reply (shaped by the script's onResponse when it has one). */
  private async replied(env: Envelope, route: CompiledRoute, request: UpstreamRequest, state: PipelineState): Promise<Outcome> {
    const result = await state.balancer.dispatch(request);
    const outcome = toOutcome(result, true);
    if (result.kind === 'response' && route.kind === 'script' && state.scripts) {
      const shaped = await state.scripts.onResponse(
        route.config.script!,
        { status: result.status, headers: result.headers, body: result.body },
        env,
      );
      // A failing onResponse fails the message like a failing onMessage.
      if (shaped && 'ok' in shaped) return rejected(500, shaped.code, shaped.reason);
      if (shaped) return shaped.status >= 400 ? rejected(shaped.status, 'TG_ERR_SCRIPT_REJECTED', shaped.payload.toString('utf8')) : accepted(shaped.status, shaped);
    }
    return outcome;
  }
}

/** Builds the upstream request for a route decision. */
export function buildRequest(env: Envelope, route: CompiledRoute, d: RouteDecision, pool: string, wantsReply = false): UpstreamRequest {
  const headers: Record<string, string> = {
    'x-thinggate-message-id': env.id,
    'x-thinggate-client-id': headerSafe(env.source.clientId),
    'x-thinggate-protocol': env.protocol,
    'x-thinggate-address': headerSafe(env.address),
  };
  if (env.correlationId !== undefined) headers['x-thinggate-correlation-id'] = headerSafe(env.correlationId);
  if (env.replyTo !== undefined) headers['x-thinggate-reply-to'] = headerSafe(env.replyTo);
  let body = env.payload;
  let contentType = env.contentType ?? 'application/octet-stream';
  if (d.body !== undefined) {
    const b = toBytes(d.body);
    body = b.bytes;
    if (b.contentType) contentType = b.contentType;
  }
  const transcoded = route.codecs !== undefined ? transcodedBody(env, route, d) : undefined;
  if (transcoded) body = transcoded.body;
  headers['content-type'] = contentType;
  for (const k in route.headers) headers[k] = route.headers[k]!;
  if (d.headers) for (const k in d.headers) headers[k.toLowerCase()] = String(d.headers[k]);
  if (transcoded) headers['content-type'] = transcoded.contentType;
  // Only an identity admission verified is sent: set last, so no route or script header (which may copy a device's own headers) stands in for it.
  if (env.source.identity) headers['x-thinggate-identity'] = headerSafe(env.source.identity.principal);
  else delete headers['x-thinggate-identity'];
  const path = d.path !== undefined ? (d.path.includes('{') ? compilePathTemplate(d.path)(env) : d.path) : route.renderPath(env);
  const method = d.method ?? route.config.request.method;
  const request: { -readonly [K in keyof UpstreamRequest]: UpstreamRequest[K] } = {
    pool,
    method: method === 'POST' ? method : method.toUpperCase(),
    path,
    headers,
    body,
    idempotencyKey: env.id,
    key: d.key ?? env.source.clientId,
    // A spooled message is acknowledged before any back-end answered, so there is no reply to give;
    // at-most-once messages are not worth disk space.
    spool: !wantsReply && env.delivery !== 'at-most-once',
  };
  if (env.expiresAt !== undefined) request.expiresAt = env.expiresAt;
  return request;
}

/** The decision of a route without a script. */
const STATIC_ROUTE: RouteDecision = Object.freeze({ action: 'route' });

function toPlainOutcome(result: UpstreamResult): Outcome {
  return toOutcome(result, false);
}

/** Maps an upstream result to an Outcome. 2xx accepted; 4xx rejected; 5xx and failures unavailable. */
export function toOutcome(result: UpstreamResult, wantsReply: boolean): Outcome {
  switch (result.kind) {
    case 'spooled':
      return accepted(202);
    case 'unavailable':
      return unavailable(result.code, result.reason, result.retryAfterMs, result.code === 'TG_ERR_UPSTREAM_TIMEOUT' ? 504 : 503);
    case 'response': {
      const s = result.status;
      if (s >= 200 && s < 300) {
        if (!wantsReply) return accepted(s);
        const reply: Reply = {
          payload: result.body,
          status: s,
          ...(result.headers['content-type'] !== undefined && { contentType: result.headers['content-type'] }),
          headers: result.headers,
        };
        return accepted(s, reply);
      }
      const text = result.body.subarray(0, REASON_BODY_MAX).toString('utf8').replace(/\s+/g, ' ').trim();
      const reason = `back-end ${result.endpoint} answered ${s}${text ? `: ${text}` : ''}`;
      if (s >= 400 && s < 500) return rejected(s, 'TG_ERR_UPSTREAM_REJECTED', reason);
      return unavailable('TG_ERR_UPSTREAM_STATUS', reason, parseRetryAfter(result.headers['retry-after']), s === 504 ? 504 : 503);
    }
  }
}

function parseRetryAfter(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n * 1000 : undefined;
}

/** Folds fan-out outcomes: any rejection wins, then any unavailability, else accepted with the first reply. */
function fold(outcomes: readonly Outcome[]): Outcome {
  const r = outcomes.find((o) => o.kind === 'rejected');
  if (r) return r;
  const u = outcomes.find((o) => o.kind === 'unavailable');
  if (u) return u;
  return outcomes.find((o) => o.kind === 'accepted' && o.reply !== undefined) ?? outcomes.find((o) => o.kind === 'accepted' && !o.dropped) ?? outcomes[0]!;
}

const VISIBLE_ASCII = /^[\x20-\x7e]*$/;

/** Header values must be visible ASCII; anything else is percent-encoded. */
function headerSafe(s: string): string {
  return VISIBLE_ASCII.test(s) ? s : encodeURIComponent(s);
}
