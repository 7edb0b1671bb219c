/**
 * A DeviceMessage as data (state/bus.ts WireDeviceMessage): its payload in
 * base64 and without its settlement callback. It crosses between nodes on
 * the bus, and is what durable stores keep of sessions' queued messages and
 * retained messages (deviceMessageCodec). A message restored from a store
 * has no onSettled: whoever waited for it is gone with the old process.
 */
import type { MessageCodec, WireDeviceMessage } from '../state/index.js';
import type { DeviceMessage } from './registry.js';

export function toWire(m: DeviceMessage): WireDeviceMessage {
  const { payload, topic, qos, retain, contentType, headers, correlationId, replyTo, expiresAt, payloadUtf8 } = m;
  return {
    topic,
    payload: payload.toString('base64'),
    qos,
    retain,
    ...(contentType !== undefined && { contentType }),
    ...(headers !== undefined && { headers }),
    ...(correlationId !== undefined && { correlationId }),
    ...(replyTo !== undefined && { replyTo }),
    ...(expiresAt !== undefined && { expiresAt }),
    ...(payloadUtf8 !== undefined && { payloadUtf8 }),
  };
}

export function fromWire(m: WireDeviceMessage): DeviceMessage {
  return { ...m, payload: Buffer.from(m.payload, 'base64') };
}

/** DeviceMessages as JSON text, for the durable session and retained stores. */
export const deviceMessageCodec: MessageCodec<DeviceMessage> = {
  encode: (m) => JSON.stringify(toWire(m)),
  decode: (text) => {
    try {
      const w = JSON.parse(text) as WireDeviceMessage;
      return typeof w?.topic === 'string' && typeof w.payload === 'string' ? fromWire(w) : undefined;
    } catch {
      return undefined;
    }
  },
};
