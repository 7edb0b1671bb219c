/**
 * One device request, in order: method → prefix/address → declared size →
 * admission (Basic credentials, client-id header) → body (bounded) →
 * pipeline → response. Every failure is an HTTP answer; nothing a request
 * contains can throw past `onRequest`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tlsInfoOf } from '../../security/tls.js';
import { createEnvelope, type TlsInfo } from '../../envelope/index.js';
import type { Admission } from '../listener.js';
import type { HttpCore } from './core.js';
import { addressOf, basicCredentials, bearerToken, envelopeHeaders, errorAnswer, outcomeAnswer, type HttpAnswer } from './mapping.js';
import { scoredNames } from '../../guard/scoring.js';

const ALLOWED = 'POST, PUT';
/** The address a device long-polls with GET for its next command (command-poll.ts). */
const POLL_ADDRESS = 'commands';

export async function onRequest(core: HttpCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  core.messagesIn++;
  const busy = core.overloaded();
  if (busy !== undefined) return send(core, res, errorAnswer(503, 'TG_ERR_OVERLOADED', 'server busy', { 'retry-after': String(busy) }));
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? undefined : url.slice(q + 1);
  if (!path.startsWith(core.options.prefix))
    return send(core, res, errorAnswer(404, 'TG_ERR_HTTP_NOT_FOUND', `no ingress at ${path}; devices POST or PUT under ${core.options.prefix}`));
  const polling = req.method === 'GET' && path === `${core.options.prefix}${POLL_ADDRESS}` && core.polls !== undefined;
  if (req.method !== 'POST' && req.method !== 'PUT' && !polling) {
    return send(core, res, errorAnswer(405, 'TG_ERR_HTTP_METHOD', `method ${req.method ?? '?'} not allowed; use POST or PUT`, { allow: ALLOWED }));
  }
  const addr = addressOf(path, core.options.prefix);
  if (!addr.ok) return send(core, res, errorAnswer(addr.status, addr.status === 404 ? 'TG_ERR_HTTP_NOT_FOUND' : 'TG_ERR_HTTP_BAD_REQUEST', addr.reason));
  const max = core.maxBodyBytes;
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) return tooLarge(core, req, res, Number(declared));
  const socket = req.socket;
  const remoteAddress = socket.remoteAddress ?? 'unknown';
  const idHeader = req.headers[core.options.clientIdHeader];
  const clientId = (Array.isArray(idHeader) ? idHeader[0] : idHeader) || remoteAddress;
  const tls = tlsInfoOf(socket);
  const certFingerprint = tls?.peer?.fingerprint256;
  if (core.banned({ remoteAddress, clientId, ...(certFingerprint && { certFingerprint }) }))
    return send(core, res, errorAnswer(403, 'TG_ERR_BANNED', 'banned'));
  const admission = await admit(core, req, socket, clientId, tls);
  if (!admission.ok) {
    const status = admission.status;
    if (status !== 503) core.report({ kind: 'auth-failure', remoteAddress, clientId, ...scoredNames(tls), reasonCode: status, detail: admission.reason });
    // RFC 9110 §11.6.1: one challenge per scheme the listener accepts.
    const headers: Record<string, string> =
      status === 401
        ? { 'www-authenticate': 'Basic realm="thinggate", charset="UTF-8", Bearer realm="thinggate"' }
        : status === 503
          ? { 'retry-after': '1' }
          : {};
    return send(
      core,
      res,
      errorAnswer(
        status,
        status === 503 ? 'TG_ERR_ADMISSION_UNAVAILABLE' : status === 401 ? 'TG_ERR_HTTP_UNAUTHORIZED' : 'TG_ERR_HTTP_FORBIDDEN',
        admission.reason,
        headers,
      ),
    );
  }
  const principal = admission.identity?.principal;
  if (principal !== undefined && core.banned({ remoteAddress, clientId, principal })) return send(core, res, errorAnswer(403, 'TG_ERR_BANNED', 'banned'));
  if (polling) {
    const wait = Number(new URLSearchParams(query ?? '').get('wait') ?? '0');
    if (!Number.isFinite(wait) || wait < 0) return send(core, res, errorAnswer(400, 'TG_ERR_HTTP_BAD_REQUEST', 'wait: must be a number of seconds'));
    if (!core.polls!.poll(clientId, principal, wait, res)) {
      return send(core, res, errorAnswer(409, 'TG_ERR_HTTP_BAD_REQUEST', `client id '${clientId}' is connected elsewhere; commands go there`));
    }
    return;
  }
  const body = await readBody(req, max);
  if (body === 'too-large') return tooLarge(core, req, res, undefined);
  if (body === 'aborted') return;
  // guard.limits: 429 with Retry-After in seconds (RFC 6585 §4, RFC 9110 §10.2.3).
  const throttle = core.limiter.admitMessage(core.limiter.keys(remoteAddress, clientId, principal), body.length);
  if (throttle?.enforced) {
    const retry = String(Math.max(1, Math.ceil(throttle.retryAfterMs / 1000)));
    return send(core, res, errorAnswer(429, 'TG_ERR_RATE_LIMITED', `${throttle.resource} rate too high`, { 'retry-after': retry }));
  }
  const ct = req.headers['content-type'];
  const corr = req.headers['x-correlation-id'];
  const identity = admission.identity;
  const env = createEnvelope({
    protocol: 'http',
    listener: core.name,
    source: {
      clientId,
      remoteAddress,
      ...(socket.remotePort !== undefined && { remotePort: socket.remotePort }),
      ...(identity !== undefined && { identity }),
      ...(tls !== undefined && { tls }),
    },
    address: addr.address,
    method: req.method ?? 'POST',
    payload: body,
    ...(ct !== undefined && { contentType: ct }),
    headers: envelopeHeaders(req.headers, query),
    delivery: 'at-least-once',
    ...(typeof corr === 'string' && { correlationId: corr }),
  });
  core.inflight++;
  try {
    const outcome = await core.pipeline.handle(env);
    send(core, res, outcomeAnswer(outcome));
  } finally {
    core.inflight--;
    core.wake();
  }
}

/** Admission is asked once per connection and set of credentials (keep-alive requests reuse it). */
async function admit(core: HttpCore, req: IncomingMessage, socket: Socket, clientId: string, tls: TlsInfo | undefined): Promise<Admission> {
  const auth = req.headers.authorization;
  const key = `${auth ?? ''}\u0000${clientId}`;
  const cached = core.admissions.get(socket);
  if (cached && cached.key === key) return cached.admission;
  const creds = basicCredentials(auth);
  const token = bearerToken(auth);
  const admission = await core.pipeline.admit({
    protocol: 'http',
    listener: core.name,
    clientId,
    ...(creds && { username: creds.username, password: creds.password }),
    ...(token !== undefined && { token }),
    remoteAddress: socket.remoteAddress ?? 'unknown',
    ...(socket.remotePort !== undefined && { remotePort: socket.remotePort }),
    ...(tls !== undefined && { tls }),
  });
  if (admission.ok || admission.status !== 503) core.admissions.set(socket, { key, admission });
  return admission;
}

/** Reads the body up to `max` bytes. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too-large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > max) {
        req.off('data', onData);
        req.pause();
        resolve('too-large');
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    req.once('error', () => resolve('aborted'));
    req.once('aborted', () => resolve('aborted'));
  });
}

function tooLarge(core: HttpCore, req: IncomingMessage, res: ServerResponse, declared: number | undefined): void {
  core.report({
    kind: 'oversize',
    remoteAddress: req.socket.remoteAddress ?? 'unknown',
    reasonCode: 413,
    detail: declared !== undefined ? `declared body of ${declared} bytes` : `body over ${core.maxBodyBytes} bytes`,
  });
  // The rest of the body is not read: the connection cannot be reused (RFC 9112 §9.6).
  res.shouldKeepAlive = false;
  send(core, res, errorAnswer(413, 'TG_ERR_PAYLOAD_TOO_LARGE', `body larger than ${core.maxBodyBytes} bytes`, { connection: 'close' }));
  res.once('finish', () => req.socket.destroySoon());
}

function send(core: HttpCore, res: ServerResponse, a: HttpAnswer): void {
  if (res.headersSent || res.destroyed) return;
  core.messagesOut++;
  res.writeHead(a.status, { ...a.headers, 'content-length': String(a.body.length) });
  res.end(a.body);
}
