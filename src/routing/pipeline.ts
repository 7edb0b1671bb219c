/**
 * The pipeline: the router joining listeners (downstream) to the balancer
 * (upstream). For one Envelope: match a route → ask its script, or use the
 * route's static decision → carry out each decision → fold the results into
 * one Outcome. Listeners never see pools; the balancer never sees Envelopes.
 */
import type { Logger } from 'pino';
import { accepted, rejected, unavailable, type Envelope, type Outcome, type Reply } from '../envelope/index.js';
import type { AclAction, Admission, ClientInfo, Identity, Pipeline, Source } from '../envelope/index.js';
import type { SecurityGate } from '../security/gate.js';
import { mergeIdentity } from '../security/identity-rules.js';
import type { TgErrorCode } from '../error-codes.js';
import type { Balancer, UpstreamRequest, UpstreamResult } from '../balancer/types.js';
import type { DeviceRegistry, QoS } from '../devices/registry.js';
import type { Metrics, LocalCounter } from '../observability/metrics.js';
import { toBytes, type CommandDecision, type Decision, type RouteDecision, type PublishDecision } from './decision.js';
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
  /** Authenticator chains, client-id binding and the ACL. */
  readonly security?: SecurityGate;
}

/**
 * Takes the messages that answer southbound commands (devices/commands):
 * an outcome when `env` is such an answer, undefined to route it as usual.
 */
export type CommandResponses = (env: Envelope) => Promise<Outcome | undefined> | undefined;

/** Queues a script's `command()` like the API's POST body (devices/commands); rejects with a ThinggateError when it cannot. */
export type CommandSink = (clientId: string, body: Record<string, unknown>) => Promise<unknown>;

/** Sees each message once its outcome is decided (the admin stage's failure log and dashboard sampling). Must not throw. */
export type MessageObserver = (envelope: Envelope, outcome: Outcome) => void;

const QOS_BY_DELIVERY: Record<Envelope['delivery'], QoS> = { 'at-most-once': 0, 'at-least-once': 1, 'exactly-once': 2 };

const OUTCOMES_METRIC = 'thinggate_downstream_messages_total';
const OUTCOMES_HELP = 'Messages handled, by listener and outcome';
const CANCELLED_METRIC = 'thinggate_downstream_cancelled_total';
const CANCELLED_HELP = 'Messages dropped before routing because their connection had closed before any acknowledgement';

/** Longest back-end error body quoted in a rejection reason. */
const REASON_BODY_MAX = 200;

export class GatewayPipeline implements Pipeline {
  private state: PipelineState;
  private readonly metrics: Metrics;
  /** Outcome counters by listener and outcome kind, bound once (no label hashing per message). */
  private readonly outcomes = new Map<string, Partial<Record<Outcome['kind'], LocalCounter>>>();
  private inflight = 0;
  private observer: MessageObserver | undefined;
  private responses: CommandResponses | undefined;
  private commandSink: CommandSink | undefined;
  /** Back-end failures' URLs and bodies in the reasons sent to devices (log.upstreamDetailsToDevices); off by default. */
  private upstreamDetails = false;
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
    metrics.counter(CANCELLED_METRIC, CANCELLED_HELP, ['listener']);
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
    this.observer?.(env, outcome);
    return outcome;
  }

  /** Whether reasons sent to devices may name back-end URLs and quote response bodies (a debugging aid). */
  exposeUpstreamDetails(on: boolean): void {
    this.upstreamDetails = on;
  }

  /** Installs the one observer of decided messages (undefined removes it). */
  observe(observer: MessageObserver | undefined): void {
    this.observer = observer;
  }

  /** Installs the taker of command responses and the sink of scripts' `command()` decisions (undefined removes them). */
  connectCommands(responses: CommandResponses | undefined, sink: CommandSink | undefined): void {
    this.responses = responses;
    this.commandSink = sink;
  }

  /** Messages in the pipeline now (the drain log reports it as it falls). */
  get inflightCount(): number {
    return this.inflight;
  }

  private countOutcome(listener: string, kind: Outcome['kind']): void {
    let byKind = this.outcomes.get(listener);
    if (!byKind) this.outcomes.set(listener, (byKind = {}));
    (byKind[kind] ??= this.metrics.localCounter(OUTCOMES_METRIC, OUTCOMES_HELP, { listener, outcome: kind })).inc();
  }

  /**
   * Admission, in order: the listener's authenticator chain → the routing
   * scripts' `onConnect` (which sees the identity and may refuse or add to
   * it) → the client-id binding. Never rejects.
   */
  async admit(client: ClientInfo): Promise<Admission> {
    const { scripts, security } = this.state;
    let identity: Identity | undefined;
    try {
      if (security) {
        const r = await security.authenticate(client);
        if (!r.ok) return { ok: false, status: r.status, reason: r.reason };
        identity = r.identity;
      }
      if (scripts) {
        const a = await scripts.onConnect(identity ? { ...client, identity } : client);
        if (!a.ok) return a;
        if (a.identity) identity = identity ? mergeIdentity(identity, a.identity) : a.identity;
      }
    } catch (err) {
      this.logger.error({ err, clientId: client.clientId }, 'admission failed unexpectedly');
      return { ok: false, status: 503, reason: 'admission unavailable' };
    }
    if (security && !security.clientIdAllowed(client.listener, client.clientId, identity)) {
      return { ok: false, status: 403, reason: `client id '${client.clientId}' is not bound to this identity`, clientIdRefused: true };
    }
    // A connected client id is taken over only by the same principal (anonymous by anonymous), never across principals,
    // on this node or another (presence keeps the principal of each claim; an unreachable store does not refuse).
    const holder = this.devices.lookup(client.clientId) ?? (await this.devices.heldElsewhere(client.clientId).catch(() => undefined));
    if (holder && holder.principal !== identity?.principal) {
      return { ok: false, status: 403, reason: `client id '${client.clientId}' is in use by another identity` };
    }
    return identity ? { ok: true, identity } : { ok: true };
  }

  authorize(listener: string, source: Source, action: AclAction, address: string): boolean {
    return this.state.security?.authorize(listener, source, action, address) ?? true;
  }

  /** Resolves when no message is in the pipeline, or after `timeoutMs` when given. */
  idle(timeoutMs?: number): Promise<void> {
    return this.drained.wait(timeoutMs);
  }

  /** Synchronous up to the dispatch, so a static route costs no extra promise of its own. */
  private route(env: Envelope, state: PipelineState): Promise<Outcome> | Outcome {
    if (env.signal?.aborted === true) {
      // Nobody can be acknowledged any more, so nobody counts on this message: not worth a script call or a back-end request.
      this.metrics.localCounter(CANCELLED_METRIC, CANCELLED_HELP, { listener: env.listener }).inc();
      return CONNECTION_CLOSED;
    }
    if (env.expiresAt !== undefined && env.expiresAt <= Date.now()) {
      return accepted(200); // [MQTT-3.3.2-5]-style: an expired message is discarded, not an error
    }
    // The ACL before anything else: a denied message reaches no back-end and no device.
    if (state.security?.enforcing && !state.security.authorize(env.listener, env.source, 'publish', env.address)) {
      return rejected(403, 'TG_ERR_ACL_DENIED', `not authorized to publish to '${env.address}'`);
    }
    const answer = this.responses?.(env);
    if (answer) return answer.then((outcome) => outcome ?? this.matched(env, state));
    return this.matched(env, state);
  }

  /** Matches a route and carries out its decision. */
  private matched(env: Envelope, state: PipelineState): Promise<Outcome> | Outcome {
    const route = state.routes.match(env);
    if (!route) return rejected(404, 'TG_ERR_NO_ROUTE', `no route matches address '${env.address}'`);
    const refused = route.inspect?.(env);
    if (refused) return refused;
    route.tap?.(env);
    switch (route.kind) {
      case 'devices':
        return this.publish(
          env,
          {
            action: 'publish',
            topic: env.address,
            payload: env.payload,
            qos: QOS_BY_DELIVERY[env.delivery],
            ...(env.contentType !== undefined && { contentType: env.contentType }),
            ...(env.retain === true && { retain: true }),
            headers: env.headers,
          },
          env.payloadUtf8 === true,
        );
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
      // A suspended script is the gateway's trouble, not the message's: try again later.
      if (result.code === 'TG_ERR_SCRIPT_SUSPENDED') return unavailable(result.code, result.reason, result.retryAfterMs);
      return result.code === 'TG_ERR_SCRIPT_THROTTLED' ? rejected(429, result.code, result.reason) : rejected(500, result.code, result.reason);
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
      case 'command':
        return this.command(d);
      default:
        return rejected(500, 'TG_ERR_SCRIPT_INVALID_DECISION', `unknown action '${(d as { action?: unknown }).action}'`);
    }
  }

  /** Queues a script's command; a full or unwritable mailbox is `unavailable` (the device may send again later). */
  private async command(d: CommandDecision): Promise<Outcome> {
    const sink = this.commandSink;
    if (!sink) return rejected(500, 'TG_ERR_SCRIPT_INVALID_DECISION', 'command(): the gateway has no commands section');
    const { bytes, contentType } = toBytes(d.payload);
    try {
      await sink(d.clientId, {
        payload: bytes.toString('base64'),
        encoding: 'base64',
        contentType: d.contentType ?? contentType ?? 'application/octet-stream',
        ...(d.address !== undefined && { address: d.address }),
        ...(d.qos !== undefined && { qos: d.qos }),
        ...(d.ttlMs !== undefined && { ttlMs: d.ttlMs }),
      });
      return accepted(200);
    } catch (err) {
      if (!(err instanceof ThinggateError)) throw err;
      if (err.code === 'TG_ERR_MAILBOX_FULL' || err.code === 'TG_ERR_MAILBOX_UNAVAILABLE') return unavailable(err.code, err.message);
      return rejected(err.status ?? 400, err.code, err.message);
    }
  }

  /** `payloadUtf8`: the payload is the envelope's own, declared UTF-8 text, and stays so declared. */
  private publish(env: Envelope, d: PublishDecision, payloadUtf8 = false): Outcome {
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
        ...(payloadUtf8 && { payloadUtf8: true }),
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
    if (!wantsReply) return state.balancer.dispatch(request).then(this.upstreamDetails ? toDetailedOutcome : toPlainOutcome);
    return this.replied(env, route, request, state);
  }

  /** A dispatch whose back-end answer is the reply (shaped by the script's onResponse when it has one). */
  private async replied(env: Envelope, route: CompiledRoute, request: UpstreamRequest, state: PipelineState): Promise<Outcome> {
    const result = await state.balancer.dispatch(request);
    const outcome = toOutcome(result, true, this.upstreamDetails);
    if (result.kind === 'response' && route.kind === 'script' && state.scripts) {
      const shaped = await state.scripts.onResponse(route.config.script!, { status: result.status, headers: result.headers, body: result.body }, env);
      // A failing onResponse fails the message like a failing onMessage.
      if (shaped && 'ok' in shaped) return rejected(500, shaped.code, shaped.reason);
      if (shaped)
        return shaped.status >= 400 ? rejected(shaped.status, 'TG_ERR_SCRIPT_REJECTED', shaped.payload.toString('utf8')) : accepted(shaped.status, shaped);
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
    source: env.source,
  };
  if (env.expiresAt !== undefined) request.expiresAt = env.expiresAt;
  if (env.signal !== undefined) request.signal = env.signal;
  return request;
}

/** The outcome of a message whose connection closed first; its listener has no one to send it to. */
const CONNECTION_CLOSED: Outcome = Object.freeze(unavailable('TG_ERR_CONNECTION_CLOSED', 'the device connection closed before the message was sent'));

/** The decision of a route without a script. */
const STATIC_ROUTE: RouteDecision = Object.freeze({ action: 'route' });

function toPlainOutcome(result: UpstreamResult): Outcome {
  return toOutcome(result, false);
}

function toDetailedOutcome(result: UpstreamResult): Outcome {
  return toOutcome(result, false, true);
}

/** What a device is told about a failed upstream attempt: no URL, address or response body. */
function publicUpstreamReason(code: string, status?: number): string {
  switch (code) {
    case 'TG_ERR_UPSTREAM_TIMEOUT':
      return 'back-end did not answer in time';
    case 'TG_ERR_UPSTREAM_REJECTED':
      return `back-end refused the message (${status})`;
    case 'TG_ERR_UPSTREAM_STATUS':
      return `back-end unavailable (${status})`;
    case 'TG_ERR_MESSAGE_EXPIRED':
      return 'message expired';
    default:
      return `back-end unavailable (${code})`;
  }
}

/**
 * Maps an upstream result to an Outcome. 2xx accepted; 4xx rejected; 5xx
 * and failures unavailable. The reason names no back-end URL and quotes no
 * response body unless `details` (the full text is always in `detail`).
 */
export function toOutcome(result: UpstreamResult, wantsReply: boolean, details = false): Outcome {
  switch (result.kind) {
    case 'spooled':
      return accepted(202);
    case 'unavailable': {
      const status = result.code === 'TG_ERR_UPSTREAM_TIMEOUT' ? 504 : 503;
      const reason = details ? result.reason : publicUpstreamReason(result.code);
      return unavailableWithDetail(result.code, reason, result.reason, result.retryAfterMs, status);
    }
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
      const detail = `back-end ${result.endpoint} answered ${s}${text ? `: ${text}` : ''}`;
      const code = s >= 400 && s < 500 ? 'TG_ERR_UPSTREAM_REJECTED' : 'TG_ERR_UPSTREAM_STATUS';
      const reason = details ? detail : publicUpstreamReason(code, s);
      if (s >= 400 && s < 500) return { kind: 'rejected', status: s, code, reason, detail };
      return unavailableWithDetail(code, reason, detail, parseRetryAfter(result.headers['retry-after']), s === 504 ? 504 : 503);
    }
  }
}

function unavailableWithDetail(code: TgErrorCode, reason: string, detail: string, retryAfterMs: number | undefined, status: number): Outcome {
  return retryAfterMs === undefined
    ? { kind: 'unavailable', status, code, reason, detail }
    : { kind: 'unavailable', status, code, reason, detail, retryAfterMs };
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
