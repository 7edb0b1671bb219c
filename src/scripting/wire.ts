/**
 * Envelopes and responses as they are copied into an isolate: flat arrays of
 * primitives (cheaper to copy than objects), with the payload as its own
 * bytes (a Buffer slice of a shared pool would otherwise copy the whole pool).
 */
import type { Envelope } from '../envelope/index.js';
import type { ClientInfo } from '../listeners/listener.js';
import type { ScriptResponse } from '../routing/script-host.js';

/** Bytes that own their ArrayBuffer exactly. */
export function ownBytes(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b);
}

/** See prelude.ts for the layout; the payload travels separately, its length in slot 11. */
export function envelopeWire(env: Envelope): unknown[] {
  const id = env.source.identity;
  return [
    env.id,
    env.protocol,
    env.listener,
    env.source.clientId,
    id ? { principal: id.principal, method: id.method, attributes: { ...id.attributes } } : null,
    env.address,
    env.method,
    env.headers,
    env.contentType ?? null,
    env.delivery,
    env.receivedAt,
    env.payload.byteLength,
    env.correlationId ?? null,
    env.replyTo ?? null,
  ];
}

export function responseWire(res: ScriptResponse): unknown[] {
  return [res.status, { ...res.headers }, ownBytes(res.body)];
}

/** What `onConnect(client)` sees. The password is given as text so admission scripts can check tokens; it is never logged. */
export function clientWire(c: ClientInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {
    protocol: c.protocol,
    listener: c.listener,
    clientId: c.clientId,
    remoteAddress: c.remoteAddress,
  };
  if (c.username !== undefined) out.username = c.username;
  if (c.password !== undefined) out.password = c.password.toString('utf8');
  if (c.remotePort !== undefined) out.remotePort = c.remotePort;
  if (c.tls) out.tls = { ...c.tls };
  return out;
}
