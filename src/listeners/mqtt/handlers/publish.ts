/**
 * PUBLISH from the client (MQTT 5.0 §3.3, §4.3). The message becomes an
 * Envelope and goes to the pipeline; QoS 1 PUBACK and QoS 2 PUBREC are sent
 * only once the Outcome is known, i.e. after a back-end answered. A QoS 2
 * PUBLISH re-sent while its exchange is open is not dispatched again.
 */
import { isUtf8 } from 'node:buffer';
import type { IPublishPacket } from 'mqtt-packet';
import { topicNameProblem, type Outcome } from '../../../envelope/index.js';
import type { MqttSession } from '../session.js';
import { QOS2_DISPATCHING, QOS2_RECEIVED } from '../inbound.js';
import { buildEnvelope } from '../envelope.js';
import { RC, outcomeReasonCode } from '../reason-codes.js';
import { MqttProtocolViolation, malformed, protocolError, receiveMaximumExceeded } from '../violation.js';

export function handlePublish(c: MqttSession, p: IPublishPacket): void {
  const v5 = c.version === 5;
  const props = p.properties;
  let topic = p.topic;
  if (v5 && props !== undefined) {
    if (props.topicAlias !== undefined) topic = resolveAlias(c, props.topicAlias, topic);
    // [MQTT-3.3.4-6]: Subscription Identifiers travel server → client only.
    if (props.subscriptionIdentifier !== undefined) throw protocolError('MQTT-3.3.4-6', 'PUBLISH from a client carries a subscription identifier');
  }
  const qos = p.qos;
  // [MQTT-3.3.1-2]: DUP must be 0 for QoS 0; [MQTT-2.3.1-1]: QoS 1/2 packet identifiers are non-zero.
  if (qos === 0 && p.dup) throw malformed('MQTT-3.3.1-2', 'DUP flag set on a QoS 0 PUBLISH');
  if (qos > 0 && !p.messageId) throw malformed('MQTT-2.3.1-1', 'QoS 1/2 PUBLISH with packet identifier 0');
  const problem = topicNameProblem(topic);
  if (problem !== undefined) {
    throw new MqttProtocolViolation('protocol-error', RC.TOPIC_NAME_INVALID, 'MQTT-3.3.2-2', `invalid topic name: ${problem}`);
  }
  // [MQTT-3.2.2-14]: with Retain Available 0 (mqtt.retainAvailable false) a retained PUBLISH is refused; v3.1.1 has no such signal, so retain is ignored there.
  const retain = p.retain && c.shared.options.retainAvailable;
  if (p.retain && !retain && v5)
    throw new MqttProtocolViolation('protocol-error', RC.RETAIN_NOT_SUPPORTED, 'MQTT-3.2.2-14', 'retained messages are not supported');
  if (qos > c.shared.options.maximumQos) {
    throw new MqttProtocolViolation('protocol-error', RC.QOS_NOT_SUPPORTED, 'MQTT-3.2.2-11', `QoS ${qos} exceeds maximum QoS ${c.shared.options.maximumQos}`);
  }
  const id = p.messageId ?? 0;
  if (qos === 2) {
    const state = c.inbound.qos2State(id);
    if (state === QOS2_RECEIVED) {
      // A re-sent PUBLISH after PUBREC: answer PUBREC again, do not dispatch [MQTT-4.3.3-9 method B].
      c.wire.simpleAck('pubrec', id);
      return;
    }
    // Still being dispatched: its PUBREC goes out when the first dispatch completes.
    if (state === QOS2_DISPATCHING) return;
  }
  const payload = p.payload as Buffer;
  // guard.limits (docs/guard.md): refused without dispatching. PUBACK/PUBREC may not carry 0x96 Message rate
  // too high (a DISCONNECT code, MQTT 5.0 §3.14.2.1); their list has 0x97 Quota exceeded (§3.4.2.1, §3.5.2.1).
  const admitted = c.admitPublish(qos, payload.length);
  if (admitted === 'closed') return;
  if (admitted === 'refuse') {
    c.wire.ack(qos === 1 ? 'puback' : 'pubrec', id, RC.QUOTA_EXCEEDED, 'message rate too high');
    return;
  }
  if (qos > 0) {
    // [MQTT-3.3.4-9]: more unacknowledged QoS 1/2 PUBLISHes than our Receive Maximum.
    if (!c.inbound.begin(qos as 1 | 2, id, v5)) throw receiveMaximumExceeded(c.shared.limits.maxInflight);
  }
  // [MQTT-3.3.2-4]: a payload declared UTF-8 that is not is refused with 0x99, without disconnecting.
  if (v5 && props?.payloadFormatIndicator && !isUtf8(payload)) {
    const rejection: Outcome = { kind: 'rejected', status: 400, code: 'TG_ERR_MQTT_PAYLOAD_FORMAT', reason: 'payload is not valid UTF-8' };
    if (qos === 0) c.shared.metrics.dropped('payload-format-invalid');
    else finish(c, qos, id, rejection, undefined, undefined);
    return;
  }
  const env = buildEnvelope(c.listener, c.source, topic, payload, qos, props, Date.now(), c.closedSignal, retain);
  const responseTopic = props?.responseTopic;
  const correlation = props?.correlationData;
  c.dispatch(env).then(
    (outcome) => {
      finish(c, qos, id, outcome, responseTopic, correlation);
      c.settled();
    },
    (err: unknown) => {
      c.fail(err);
      c.settled();
    },
  );
}

/** Topic aliases (MQTT 5.0 §3.3.2.3.4): 0 or above our maximum → 0x94; unknown alias with an empty topic → 0x82. */
function resolveAlias(c: MqttSession, alias: number, topic: string): string {
  const max = c.shared.options.topicAliasMaximum;
  if (alias === 0 || alias > max) {
    throw new MqttProtocolViolation('protocol-error', RC.TOPIC_ALIAS_INVALID, 'MQTT-3.3.2-8', `topic alias ${alias} outside 1..${max}`);
  }
  if (topic.length > 0) {
    c.topicAliases.set(alias, topic);
    return topic;
  }
  const known = c.topicAliases.get(alias);
  if (known === undefined) throw protocolError('MQTT-3.3.4', `topic alias ${alias} was never set`);
  return known;
}

/** Maps the Outcome to the acknowledgement (or, for v3.1.1 failures, to closing without one). */
function finish(c: MqttSession, qos: number, id: number, outcome: Outcome, responseTopic: string | undefined, correlation: Buffer | undefined): void {
  if (c.state === 'closed') return; // no ack: the client redelivers on its next connection
  // A v3.1.1 client would redeliver an ACL-denied message forever: by default it is acknowledged and discarded (docs/security.md).
  const dropDenied = c.version !== 5 && outcome.kind === 'rejected' && outcome.code === 'TG_ERR_ACL_DENIED' && c.shared.options.deniedPublishV3 === 'drop';
  if (outcome.kind === 'accepted' || dropDenied) {
    if (dropDenied) c.shared.metrics.dropped('rejected');
    if (outcome.kind === 'accepted' && outcome.reply !== undefined && responseTopic !== undefined) sendReply(c, outcome, responseTopic, correlation, qos);
    if (qos === 1) {
      c.inbound.complete(1, id);
      c.wire.simpleAck('puback', id);
    } else if (qos === 2) {
      c.inbound.received(id);
      c.wire.simpleAck('pubrec', id);
    }
    return;
  }
  if (qos === 0) {
    c.shared.metrics.dropped(outcome.kind === 'rejected' ? 'rejected' : 'unavailable');
    c.log.debug({ status: outcome.status, reason: outcome.reason }, 'QoS 0 message not accepted');
    return;
  }
  if (c.version !== 5) {
    // MQTT 3.1.1 has no negative acknowledgement: close without acking so the client redelivers.
    c.log.warn(
      { outcome: outcome.kind, status: outcome.status, reason: outcome.reason, packetId: id },
      outcome.kind === 'rejected'
        ? 'message rejected: closing the connection without acknowledgement (the client will redeliver on reconnect)'
        : 'back-end unavailable: closing the connection without acknowledgement so the client redelivers',
    );
    c.end();
    return;
  }
  // An error PUBREC ends the QoS 2 exchange; the packet id is free again (MQTT 5.0 §4.3.3).
  c.inbound.complete(qos as 1 | 2, id);
  c.wire.ack(qos === 1 ? 'puback' : 'pubrec', id, outcomeReasonCode(outcome), outcome.reason);
}

/** The back-end's reply goes to the requester on its Response Topic with the same Correlation Data (MQTT 5.0 §4.10). */
function sendReply(c: MqttSession, outcome: Extract<Outcome, { kind: 'accepted' }>, topic: string, correlation: Buffer | undefined, qos: number): void {
  const reply = outcome.reply!;
  c.deliver(
    {
      topic,
      payload: reply.payload,
      qos: qos === 0 ? 0 : 1,
      retain: false,
      ...(reply.contentType !== undefined && { contentType: reply.contentType }),
      ...(correlation !== undefined && { correlationId: correlation.toString('base64url') }),
    },
    qos === 0 ? 0 : 1,
  );
}
