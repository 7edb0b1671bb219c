/**
 * PUBLISH (or Will) → Envelope. MQTT 5 properties map onto envelope fields:
 * user properties → headers (lower-cased names), content type, response
 * topic → replyTo, correlation data → correlationId (base64url), message
 * expiry → expiresAt.
 */
import { createEnvelope, type Delivery, type Envelope, type Source } from '../../envelope/index.js';
import type { UserProperties } from 'mqtt-packet';

const DELIVERY: readonly Delivery[] = ['at-most-once', 'at-least-once', 'exactly-once'];

/** The MQTT 5 properties of a PUBLISH or Will that reach the envelope. */
export interface MessageProperties {
  readonly contentType?: string;
  readonly userProperties?: UserProperties;
  readonly responseTopic?: string;
  readonly correlationData?: Buffer;
  readonly messageExpiryInterval?: number;
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
): Envelope {
  if (props === undefined) {
    return createEnvelope({
      protocol: 'mqtt',
      listener,
      source,
      address: topic,
      method: 'PUBLISH',
      payload,
      delivery: DELIVERY[qos]!,
      receivedAt: now,
    });
  }
  return createEnvelope({
    protocol: 'mqtt',
    listener,
    source,
    address: topic,
    method: 'PUBLISH',
    payload,
    delivery: DELIVERY[qos]!,
    receivedAt: now,
    ...(props.userProperties !== undefined && { headers: userPropertiesToHeaders(props.userProperties) }),
    ...(props.contentType !== undefined && { contentType: props.contentType }),
    ...(props.responseTopic !== undefined && { replyTo: props.responseTopic }),
    ...(props.correlationData !== undefined && { correlationId: props.correlationData.toString('base64url') }),
    ...(props.messageExpiryInterval !== undefined && { expiresAt: now + props.messageExpiryInterval * 1000 }),
  });
}
