/**
 * One CoAP request, in order: deduplication (RFC 7252 §4.5) → method →
 * rate limit → options → admission → Block2 follow-up → Block1 reassembly
 * (RFC 7959) → body limit → Observe (RFC 7641) → command poll (command-poll.ts) → pipeline, with the empty
 * ACK of a separate response (§5.2.2) if the pipeline is slow.
 */
import { coapFormatForMediaType, createEnvelope, mediaTypeForCoapFormat, type Outcome } from '../../envelope/index.js';
import { TYPE_ACK, TYPE_CON, type CoapMessage, type CoapOption } from './codec.js';
import * as C from './codes.js';
import type { CoapCore, RequestContext, ResponseSpec } from './core.js';
import type { Exchange } from './exchanges.js';
import { OPT, blockValue, uint, type Block } from './options.js';
import type { Peer } from './peers.js';
import { isProblem, readRequest, type CoapRequest } from './request.js';
import { admit } from './admission.js';
import { onObserve } from './handle-observe.js';
import { POLL_ADDRESS } from './command-poll.js';

const NO_REQUEST: CoapRequest = { method: '', address: '' };
/** Longest diagnostic payload (RFC 7252 §5.5.2) thinggate writes. */
const DIAGNOSTIC_MAX = 128;

export function onRequest(core: CoapCore, peer: Peer, msg: CoapMessage, size: number, now: number): void {
  const confirmable = msg.type === TYPE_CON;
  const cache = confirmable ? core.conExchanges : core.nonExchanges;
  const key = peer.id * 0x10000 + msg.messageId;
  const seen = cache.get(key);
  if (seen) {
    onDuplicate(core, peer, msg, seen, confirmable);
    return;
  }
  const exchange = cache.add(key, now);
  // One object per request; `req` is filled in once the options are read.
  const ctx: { -readonly [K in keyof RequestContext]: RequestContext[K] } = {
    peer,
    messageId: msg.messageId,
    token: msg.token,
    confirmable,
    requestBytes: size,
    exchange,
    req: NO_REQUEST,
  };
  if (core.closing) {
    core.respond(ctx, unavailableSpec('listener is shutting down', 1));
    return;
  }
  const method = C.METHODS[msg.code];
  if (method === undefined) {
    core.respond(ctx, diagnostic(C.METHOD_NOT_ALLOWED, `method code ${msg.code >> 5}.${String(msg.code & 31).padStart(2, '0')} is not supported`));
    return;
  }
  // guard.overload: 5.03 with Max-Age (RFC 7252 §5.9.3.4).
  const busy = core.overloaded();
  if (busy !== undefined) {
    core.respond(ctx, unavailableSpec('server busy', busy));
    return;
  }
  if (!core.peers.take(peer, now)) {
    const retryMs = core.peers.retryAfterMs(peer);
    core.count('rate-limited');
    if (core.peers.shouldReportLimit(peer, now)) {
      core.report({
        kind: 'flood',
        remoteAddress: peer.address,
        clientId: peer.clientId,
        clause: 'RFC8516',
        reasonCode: C.TOO_MANY_REQUESTS,
        detail: `over ${core.options.requestsPerSecond} requests/s`,
      });
    }
    // RFC 8516 §3: 4.29 with Max-Age saying when to try again.
    core.respond(ctx, { ...diagnostic(C.TOO_MANY_REQUESTS, 'too many requests'), options: [maxAge(retryMs)] });
    return;
  }
  const req = readRequest(msg, method);
  if (isProblem(req)) {
    core.protocolErrors++;
    const c = req.kind === 'proxy' ? C.PROXYING_NOT_SUPPORTED : C.BAD_OPTION;
    core.report({ kind: 'protocol-error', remoteAddress: peer.address, clientId: peer.clientId, clause: 'RFC7252-5.4.1', reasonCode: c, detail: req.reason });
    core.respond(ctx, diagnostic(c, req.reason));
    return;
  }
  ctx.req = req;
  if (req.echo !== undefined && !peer.verified && core.peers.checkEcho(peer, req.echo, now)) peer.verified = true; // RFC 9175 §2.4
  const adm = peer.admission;
  if (adm !== undefined && !(adm instanceof Promise)) {
    if (adm.ok) process(core, ctx, msg.payload, now);
    else core.respond(ctx, admissionSpec(adm.status, adm.reason));
    return;
  }
  core.inflight++;
  void admit(core, peer).then((a) => {
    core.inflight--;
    if (a.ok) process(core, ctx, msg.payload, Date.now());
    else core.respond(ctx, admissionSpec(a.status, a.reason));
    core.settled();
  });
}

/** RFC 7252 §4.5: a duplicate gets the same answer again and is never processed twice. */
function onDuplicate(core: CoapCore, peer: Peer, msg: CoapMessage, ex: Exchange, confirmable: boolean): void {
  core.count('duplicate');
  if (ex.state === 'done' && ex.response) core.write(peer, ex.response);
  // Still pending: the answer (piggybacked, or the separate-response ACK) is on its way.
  else if (confirmable && ex.state !== 'pending') core.writeEmpty(peer, TYPE_ACK, msg.messageId);
}

function process(core: CoapCore, ctx: RequestContext, body: Buffer, now: number): void {
  const { req, peer } = ctx;
  if (req.block2 !== undefined && req.block2.num > 0) {
    const held = core.block2.get(core.block2Key(peer, req), now);
    if (held) {
      core.count('block2-served');
      core.respond(ctx, { code: held.code }, held);
      return;
    }
    // A safe method can simply be asked again (RFC 7959 §2.4); anything else must start over.
    if (req.method !== 'GET' && req.method !== 'FETCH') {
      core.respond(ctx, diagnostic(C.REQUEST_ENTITY_INCOMPLETE, 'block-wise reply expired; start again from block 0'));
      return;
    }
  }
  // RFC 7959 §4: Size1 announces the whole body; refuse early.
  if (req.size1 !== undefined && req.size1 > core.maxBodyBytes) {
    core.respond(ctx, tooLarge(core));
    return;
  }
  let payload = body;
  let block1: Block | undefined;
  if (req.block1 !== undefined) {
    const b = req.block1;
    const tag = req.requestTag ? req.requestTag.toString('hex') : '';
    const r = core.block1.add(`${core.block2Key(peer, req)}|${req.method}|${tag}`, b, body, now);
    switch (r.kind) {
      case 'continue':
        core.count('block1-continue');
        core.respond(ctx, { code: C.CONTINUE, options: [{ number: OPT.BLOCK1, value: blockValue({ num: b.num, more: true, szx: b.szx }) }] });
        return;
      case 'incomplete':
        core.respond(ctx, diagnostic(C.REQUEST_ENTITY_INCOMPLETE, r.reason));
        return;
      case 'too-large':
        core.respond(ctx, tooLarge(core));
        return;
      case 'busy':
        core.respond(ctx, unavailableSpec(r.reason, 5));
        return;
      case 'complete':
        payload = r.payload;
        block1 = { num: b.num, more: false, szx: b.szx };
    }
  } else if (payload.length > core.maxBodyBytes) {
    core.report({
      kind: 'oversize',
      remoteAddress: peer.address,
      clientId: peer.clientId,
      clause: 'RFC7252-5.9.2.9',
      reasonCode: C.REQUEST_ENTITY_TOO_LARGE,
      detail: `payload of ${payload.length} bytes`,
    });
    core.respond(ctx, tooLarge(core));
    return;
  }
  if (req.observe !== undefined && req.method === 'GET' && core.options.observe && onObserve(core, ctx)) return;
  if (req.observe === undefined && req.method === 'GET' && req.address === POLL_ADDRESS && core.polls) {
    if (!core.polls.poll(ctx)) core.respond(ctx, diagnostic(C.CONFLICT, `client id '${peer.clientId}' is held by another session; commands go there`));
    return;
  }
  dispatch(core, ctx, payload, block1);
}

function dispatch(core: CoapCore, ctx: RequestContext, payload: Buffer, block1: Block | undefined): void {
  const { req, peer } = ctx;
  // Back-pressure per source (`limits.maxInflight`): beyond it the device is told to come back, nothing queues.
  if (peer.inflight >= core.maxInflight) {
    core.count('dropped');
    core.respond(ctx, unavailableSpec(`more than ${core.maxInflight} requests in flight`, 1));
    return;
  }
  // guard.limits: 4.29 with Max-Age = seconds until the buckets allow it (RFC 8516 §3).
  const throttle = core.limiter.admitMessage(core.limiter.keys(peer.address, peer.clientId, peer.identity?.principal), payload.length);
  if (throttle?.enforced) {
    core.count('rate-limited');
    core.respond(ctx, { ...diagnostic(C.TOO_MANY_REQUESTS, `${throttle.resource} rate too high`), options: [maxAge(throttle.retryAfterMs)] });
    return;
  }
  const contentType = req.contentFormat !== undefined ? mediaTypeForCoapFormat(req.contentFormat) : undefined;
  const env = createEnvelope({
    protocol: 'coap',
    listener: core.name,
    source: {
      clientId: peer.clientId,
      remoteAddress: peer.address,
      remotePort: peer.port,
      ...(peer.identity !== undefined && { identity: peer.identity }),
      ...(peer.tls !== undefined && { tls: peer.tls }),
    },
    address: req.address,
    method: req.method,
    payload,
    ...(contentType !== undefined && { contentType }),
    ...(req.headers !== undefined && { headers: req.headers }),
    delivery: ctx.confirmable ? 'at-least-once' : 'at-most-once',
    ...(ctx.token.length > 0 && { correlationId: ctx.token.toString('hex') }),
  });
  if (ctx.confirmable) core.separate.add(ctx, Date.now());
  core.inflight++;
  peer.inflight++;
  core.pipeline.handle(env).then(
    (outcome) => {
      core.inflight--;
      peer.inflight--;
      core.respond(ctx, outcomeSpec(core, req, outcome, block1));
      core.settled();
    },
    (err: unknown) => {
      // The pipeline never rejects; if it does, the device still gets an answer.
      core.inflight--;
      peer.inflight--;
      core.logger.error({ err }, 'pipeline rejected');
      core.respond(ctx, diagnostic(C.INTERNAL_SERVER_ERROR, 'internal error'));
      core.settled();
    },
  );
}

/** Maps an Outcome to a response per RFC 8075 §7. */
export function outcomeSpec(core: CoapCore, req: CoapRequest, outcome: Outcome, block1?: Block): ResponseSpec {
  const options: CoapOption[] = block1 ? [{ number: OPT.BLOCK1, value: blockValue(block1) }] : [];
  if (outcome.kind === 'accepted') {
    const reply = outcome.reply;
    const payload = reply?.payload;
    const hasPayload = payload !== undefined && payload.length > 0;
    const cf = hasPayload && reply!.contentType !== undefined ? coapFormatForMediaType(reply!.contentType) : undefined;
    // RFC 7252 §5.10.4: the preferred Content-Format cannot be returned → 4.06.
    if (hasPayload && req.accept !== undefined && cf !== req.accept) {
      return diagnostic(C.NOT_ACCEPTABLE, `reply is ${reply!.contentType ?? 'of unknown type'}, not Content-Format ${req.accept}`);
    }
    const code = C.successCode(req.method, reply?.status ?? outcome.status, hasPayload);
    return { code, options, ...(hasPayload && { payload }), ...(cf !== undefined && { contentFormat: cf }) };
  }
  const code = C.errorCode(outcome);
  const spec = diagnostic(code, publicReason(outcome));
  if (code === C.REQUEST_ENTITY_TOO_LARGE) options.push({ number: OPT.SIZE1, value: uint(core.maxBodyBytes) });
  // RFC 8075 §6.6 / RFC 7252 §5.9.3.4: 5.03 carries Max-Age = seconds until a retry may succeed.
  if (code === C.SERVICE_UNAVAILABLE) options.push(maxAge(outcome.kind === 'unavailable' ? (outcome.retryAfterMs ?? 1000) : 1000));
  return { ...spec, options };
}

/** Codes of back-end and pool failures (prefixes, not codes of their own). */
const UPSTREAM_CODE = /^TG_ERR_(?:UPSTREAM|POOL)_/;

/**
 * The diagnostic text a device may see. Reasons from the upstream side name
 * internal back-end URLs, so devices get the stable code instead.
 */
export function publicReason(outcome: Exclude<Outcome, { kind: 'accepted' }>): string {
  if (UPSTREAM_CODE.test(outcome.code)) return outcome.code;
  return outcome.reason;
}

function diagnostic(code: number, reason: string): ResponseSpec {
  const payload = Buffer.from(reason, 'utf8');
  return { code, payload: payload.length > DIAGNOSTIC_MAX ? payload.subarray(0, DIAGNOSTIC_MAX) : payload };
}

function maxAge(ms: number): CoapOption {
  return { number: OPT.MAX_AGE, value: uint(Math.max(1, Math.ceil(ms / 1000))) };
}

function unavailableSpec(reason: string, seconds: number): ResponseSpec {
  return { ...diagnostic(C.SERVICE_UNAVAILABLE, reason), options: [maxAge(seconds * 1000)] };
}

/** RFC 7959 §2.9.3: 4.13 with Size1 = the largest body accepted. */
function tooLarge(core: CoapCore): ResponseSpec {
  return {
    ...diagnostic(C.REQUEST_ENTITY_TOO_LARGE, `body larger than ${core.maxBodyBytes} bytes`),
    options: [{ number: OPT.SIZE1, value: uint(core.maxBodyBytes) }],
  };
}

function admissionSpec(status: 401 | 403 | 503, reason: string): ResponseSpec {
  if (status === 503) return unavailableSpec(reason, 1);
  return diagnostic(status === 401 ? C.UNAUTHORIZED : C.FORBIDDEN, reason);
}
