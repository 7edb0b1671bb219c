/**
 * SUBSCRIBE → SUBACK (MQTT 5.0 §3.8, §3.9). Each filter is validated
 * ([MQTT-4.7.1-1], [MQTT-4.7.1-2]; v5 0x8F / v3.1.1 0x80 for a bad one), the
 * granted QoS is the lower of the request and Maximum QoS [MQTT-3.9.3-2 v3],
 * and the subscription is registered with the device registry. No Local,
 * Retain Handling, Retain As Published and Subscription Identifiers are
 * honoured; shared subscriptions are not offered.
 */
import type { ISubackPacket, ISubscribePacket } from 'mqtt-packet';
import { filterProblem } from '../../../envelope/index.js';
import type { DeviceMessage, QoS } from '../../../devices/registry.js';
import type { MqttSession } from '../session.js';
import { RC, V3_SUBACK_FAILURE } from '../reason-codes.js';

/** v5 0x9E Shared Subscriptions not supported. */
const SHARED_NOT_SUPPORTED = 0x9e;

export function handleSubscribe(c: MqttSession, p: ISubscribePacket): void {
  const v5 = c.version === 5;
  // Validated before (validate.ts): at least one filter [MQTT-3.8.3-2], well-formed UTF-8, one non-zero Subscription Identifier at most.
  const subscriptionId = p.properties?.subscriptionIdentifier as number | undefined;
  const granted: number[] = [];
  const problems: string[] = [];
  const wantRetained: Array<{ filter: string; qos: QoS }> = [];
  for (const sub of p.subscriptions) {
    const problem = filterProblem(sub.topic);
    if (problem !== undefined) {
      problems.push(`${sub.topic}: ${problem}`);
      granted.push(v5 ? RC.TOPIC_FILTER_INVALID : V3_SUBACK_FAILURE);
      continue;
    }
    if (sub.topic.startsWith('$share/')) {
      granted.push(v5 ? SHARED_NOT_SUPPORTED : V3_SUBACK_FAILURE);
      continue;
    }
    // The ACL (docs/security.md): v5 SUBACK 0x87 Not authorized, v3.1.1 0x80 Failure.
    if (!c.shared.ctx.pipeline.authorize(c.listener, c.source, 'subscribe', sub.topic)) {
      granted.push(v5 ? RC.NOT_AUTHORIZED : V3_SUBACK_FAILURE);
      continue;
    }
    // guard.limits subscriptions: v5 0x97 Quota exceeded, v3.1.1 0x80 Failure.
    if (!c.admitSubscription()) {
      granted.push(v5 ? RC.QUOTA_EXCEEDED : V3_SUBACK_FAILURE);
      continue;
    }
    const qos = Math.min(sub.qos, c.shared.options.maximumQos) as QoS;
    const existed = c.shared.ctx.devices.subscribe(c, sub.topic, {
      qos,
      ...(v5 && sub.nl === true && { noLocal: true }),
      ...(v5 && sub.rap === true && { retainAsPublished: true }),
      ...(subscriptionId !== undefined && { subscriptionId }),
    });
    granted.push(qos);
    // MQTT 5.0 §3.8.3.1 Retain Handling: 0 send retained messages, 1 only for a new subscription, 2 never.
    const rh = v5 ? (sub.rh ?? 0) : 0;
    if (c.shared.options.retainAvailable && (rh === 0 || (rh === 1 && !existed))) wantRetained.push({ filter: sub.topic, qos });
  }
  reportInvalidFilters(c, problems, 'MQTT-4.7.1-1');
  c.subscriptionsChanged?.();
  const suback: ISubackPacket = { cmd: 'suback', messageId: p.messageId ?? 0, granted };
  if (v5 && problems.length > 0 && c.wire.problemInformation) suback.properties = { reasonString: problems.join('; ').slice(0, 256) };
  if (!c.wire.send(suback) && suback.properties) {
    delete suback.properties;
    c.wire.send(suback);
  }
  for (const w of wantRetained) void sendRetained(c, w.filter, w.qos, subscriptionId);
}

/**
 * The retained messages matching a new subscription, after its SUBACK, with
 * RETAIN 1 whatever Retain As Published says [MQTT-3.3.1-9] and at the lower
 * of their QoS and the granted one.
 */
async function sendRetained(c: MqttSession, filter: string, granted: QoS, subscriptionId: number | undefined): Promise<void> {
  let messages: DeviceMessage[];
  try {
    messages = await c.shared.ctx.devices.retainedFor(filter);
  } catch (err) {
    c.log.warn({ err, filter }, 'retained messages unavailable');
    return;
  }
  for (const m of messages) {
    c.deliver({ ...m, retain: true }, Math.min(m.qos, granted) as QoS, subscriptionId !== undefined ? [subscriptionId] : undefined);
  }
}

/** Invalid filters of one SUBSCRIBE or UNSUBSCRIBE, as one security event. */
export function reportInvalidFilters(c: MqttSession, problems: readonly string[], clause: string): void {
  if (problems.length === 0) return;
  c.shared.ctx.guard.report({
    kind: 'invalid-filter',
    listener: c.listener,
    remoteAddress: c.remote.address,
    clientId: c.clientId,
    clause,
    detail: problems.join('; '),
  });
}
