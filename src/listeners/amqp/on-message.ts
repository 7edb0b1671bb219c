/**
 * The transfer handler: one complete incoming message → Envelope → pipeline
 * → settlement (AMQP 1.0 §2.6.12, §3.4), reply and fresh credit.
 */
import rhea from 'rhea';
import { createEnvelope, topicNameProblem, type Envelope, type Outcome, type Reply } from '../../envelope/index.js';
import type { MessagePathConnection } from './connection-view.js';
import type { InboundLink } from './inbound-link.js';
import { idToString, mapBody, mapExpiry, mapHeaders, replyMessage, type AmqpMessageFields, type AmqpMessageId } from './message-mapping.js';
import { hasCapacity, sendOn } from './device-clients.js';
import type { RheaContext, RheaIncomingDelivery } from './rhea-types.js';

const dataSection = (b: Buffer): unknown => rhea.message.data_section(b);

export function onMessage(conn: MessagePathConnection, x: RheaContext): void {
  const { receiver, delivery, message } = x;
  if (!receiver || !delivery || !message) return;
  const link = conn.inboundLink(receiver);
  if (!link || link.isClosed) {
    if (!delivery.remote_settled) delivery.release();
    return;
  }
  if (!link.onTransfer()) {
    // More transfers than credit granted (AMQP 1.0 §2.6.7): the link is closed, the delivery released.
    conn.report('protocol-error', 'AMQP-1.0-2.6.7', 'transfer without link credit');
    conn.deps.metrics.closes.inc({ listener: conn.deps.ctx.config.name, condition: 'amqp:link:transfer-limit-exceeded' });
    if (!delivery.remote_settled) delivery.release();
    link.close();
    receiver.close({ condition: 'amqp:link:transfer-limit-exceeded', description: 'transfer sent without credit' });
    return;
  }
  const presettled = delivery.remote_settled;
  // A pre-settled delivery needs no disposition; settling it locally frees its slot in rhea's session window.
  if (presettled) delivery.update(true);
  conn.deps.counters.messageIn();
  const m = message as AmqpMessageFields;
  // Only the standard message format 0 (AMQP 1.0 §2.7.5, §3.2) is understood.
  const built: Envelope | Unusable =
    x.format !== undefined && x.format !== 0
      ? { condition: 'amqp:not-implemented', reason: `message format ${x.format} is not supported` }
      : buildEnvelope(conn, link, m, presettled);
  if ('condition' in built) {
    finish(conn, link, delivery, m, presettled, { kind: 'rejected', status: 400, code: 'TG_ERR_AMQP_INVALID_MESSAGE', reason: built.reason }, built.condition);
    return;
  }
  // guard.limits: over a rate, the message still goes on, and the link gets no new credit until the buckets refill.
  const throttle = conn.limitKeys && conn.deps.limiter.chargeMessage(conn.limitKeys, built.payload.length);
  const pause = Math.max(throttle?.enforced ? throttle.retryAfterMs : 0, conn.deps.limiter.overloadPauseMs());
  if (pause > 0) link.withholdCredit(pause, () => link.topUp(conn.paused));
  link.reserveInbound();
  // At the end of the turn its outcome arrives in (see defer), the delivery gives its credit slot back and is settled.
  const settle = (outcome: Outcome): void =>
    conn.defer(() => {
      link.releaseInbound();
      finish(conn, link, delivery, m, presettled, outcome);
    });
  conn.deps.ctx.pipeline.handle(built).then(settle, () => settle({ kind: 'unavailable', status: 503, code: 'TG_ERR_INTERNAL', reason: 'internal error' }));
}

function finish(
  conn: MessagePathConnection,
  link: InboundLink,
  delivery: RheaIncomingDelivery,
  m: AmqpMessageFields,
  presettled: boolean,
  outcome: Outcome,
  conditionOverride?: string,
): void {
  const listener = conn.deps.ctx.config.name;
  if (outcome.kind === 'accepted' && outcome.reply && m.reply_to) sendReply(conn, outcome.reply, m.reply_to, m.correlation_id ?? m.message_id);
  if (presettled) {
    conn.deps.metrics.deliveries.inc({ listener, state: 'presettled' });
  } else if (conditionOverride && !link.isClosed) {
    delivery.reject({ condition: conditionOverride, description: outcome.kind === 'accepted' ? '' : outcome.reason });
    conn.deps.metrics.deliveries.inc({ listener, state: 'rejected' });
  } else {
    const d = link.settle(delivery, outcome, () => link.topUp(conn.paused));
    conn.deps.metrics.deliveries.inc({ listener, state: d.state });
    if (d.state === 'rejected') conn.log.debug({ condition: d.error.condition, reason: d.error.description }, 'delivery rejected');
  }
  link.topUp(conn.paused);
}

interface Unusable {
  readonly condition: string;
  readonly reason: string;
}

/** Envelope for one message, or why the message cannot be one. */
function buildEnvelope(conn: MessagePathConnection, link: InboundLink, m: AmqpMessageFields, presettled: boolean): Envelope | Unusable {
  // The link's target address wins; the anonymous terminus takes each message's `to` (AMQP 1.0 §3.5.4, §3.2.4).
  const address = link.address ?? (typeof m.to === 'string' && m.to.length > 0 ? m.to : undefined);
  if (address === undefined) return { condition: 'amqp:invalid-field', reason: 'message has no address: the link target and the message "to" are both empty' };
  const problem = topicNameProblem(address);
  if (problem) return { condition: 'amqp:invalid-field', reason: `invalid address '${address.slice(0, 64)}': ${problem}` };
  const body = mapBody(m.body);
  const max = conn.deps.options.maxMessageBytes;
  if (body.payload.length > max) return { condition: 'amqp:link:message-size-exceeded', reason: `message body of ${body.payload.length} bytes exceeds ${max}` };
  const receivedAt = Date.now();
  const contentType = typeof m.content_type === 'string' && m.content_type.length > 0 ? m.content_type : body.impliedType;
  const expiresAt = mapExpiry(m, receivedAt);
  return createEnvelope({
    protocol: 'amqp',
    listener: conn.deps.ctx.config.name,
    receivedAt,
    source: conn.source ?? {
      clientId: conn.clientId,
      remoteAddress: conn.remoteAddress,
      ...(conn.identity !== undefined && { identity: conn.identity }),
      ...(conn.remotePort !== undefined && { remotePort: conn.remotePort }),
      ...(conn.tls !== undefined && { tls: conn.tls }),
    },
    address,
    method: 'TRANSFER',
    payload: body.payload,
    ...(contentType !== undefined && { contentType }),
    headers: mapHeaders(m),
    delivery: presettled ? 'at-most-once' : 'at-least-once',
    ...(m.correlation_id !== undefined && m.correlation_id !== null && { correlationId: idToString(m.correlation_id) }),
    ...(typeof m.reply_to === 'string' && m.reply_to.length > 0 && { replyTo: m.reply_to }),
    ...(expiresAt !== undefined && { expiresAt }),
  });
}

/** Sends the back-end's reply on the device's receiver link whose source is the reply-to address, if it has credit. */
function sendReply(conn: MessagePathConnection, reply: Reply, replyTo: string, correlationId: AmqpMessageId | undefined): void {
  const listener = conn.deps.ctx.config.name;
  const sender = conn.client?.replyLink(replyTo);
  if (!sender) {
    conn.deps.metrics.replies.inc({ listener, result: 'no-link' });
    conn.log.debug({ replyTo }, 'reply dropped: no receiving link attached at the reply-to address');
    return;
  }
  if (!hasCapacity(sender)) {
    conn.deps.metrics.replies.inc({ listener, result: 'no-credit' });
    conn.log.debug({ replyTo }, 'reply dropped: the reply link has no credit');
    return;
  }
  sendOn(sender, replyMessage(reply, replyTo, correlationId, dataSection), sender.local.attach.snd_settle_mode === 1);
  conn.deps.counters.messageOut();
  conn.deps.metrics.replies.inc({ listener, result: 'sent' });
}
