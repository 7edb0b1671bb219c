/**
 * PUBLISH (or Will) → Envelope. MQTT 5 properties map onto envelope fields:
 * user properties → headers (lower-cased names), content type, response
 * topic → replyTo, correlation data → correlationId (base64url), message
 * expiry → expiresAt.
 */
import { createEnvelope, type Delivery, type Envelope, type EnvelopeInit, type Source } from '../../envelope/index.js';
import type { UserProperties } from 'mqtt-packet';

const DELIVERY: readonly Delivery[] = ['at-most-once', 'at-least-once', 'exactly-once'];

/** The MQTT 5 properties of a PUBLISH or Will that reach the envelope. */
export interface MessageProperties {
  readonly contentType?: string;
  readonly userProperties?: UserProperties;
  readonly responseTopic?: string;
  readonly correlationData?: Buffer;
  readonly messageExpiryInterval?: number;
  readonly payloadFormatIndicator?: boolean;
}

export function userPropertiesToHeaders(up: UserProperties): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name in up) {
    const v = up[name]!;
    // Repeated names are allowed [MQTT-3.3.2-18]; they are joined like repeated HTTP headers.
    headers[name.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return headers;
}

export function buildEnvelope(
  listener: string,
  source: Source,
  topic: string,
  payload: Buffer,
  qos: number,
  props: MessageProperties | undefined,
  now: number,
  signal?: AbortSignal,
  retain = false,
): Envelope {
  // Fields assigned one by one: no object spread on the per-message path.
  const init: { -readonly [K in keyof EnvelopeInit]: EnvelopeInit[K] } = {
    protocol: 'mqtt',
    listener,
    source,
    address: topic,
    method: 'PUBLISH',
    payload,
    delivery: DELIVERY[qos]!,
    receivedAt: now,
  };
  if (signal !== undefined) init.signal = signal;
  if (retain) init.retain = true;
  if (props !== undefined) {
    if (props.userProperties !== undefined) init.headers = userPropertiesToHeaders(props.userProperties);
    if (props.contentType !== undefined) init.contentType = props.contentType;
    if (props.responseTopic !== undefined) init.replyTo = props.responseTopic;
    if (props.correlationData !== undefined) init.correlationId = props.correlationData.toString('base64url');
    if (props.messageExpiryInterval !== undefined) init.expiresAt = now + props.messageExpiryInterval * 1000;
    if (props.payloadFormatIndicator === true) init.payloadUtf8 = true;
  }
  return createEnvelope(init);
}
