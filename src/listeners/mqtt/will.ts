/**
 * Will messages [MQTT-3.1.2-8]: published when a connection closes without
 * DISCONNECT 0x00 (keepalive timeout, socket error, protocol violation,
 * session takeover, DISCONNECT 0x04). A Will is routed like any PUBLISH from
 * the client.
 *
 * MQTT 5 Will Delay Interval (§3.1.3.2.2): the Will goes out once the delay
 * has passed or the session ends, whichever comes first — at once when the
 * session ended with its connection (Session Expiry Interval 0), after
 * min(delay, Session Expiry Interval) when it outlives it. A new network
 * connection for the client id before then deletes it [MQTT-3.1.3-9]: the
 * one opening now (its CONNECT cancels the waiting Will), or one that has
 * already taken over (a takeover closes the old connection after the new one
 * holds the client id). Waiting Wills live in memory: a gateway that stops
 * drops them.
 */
import type { ListenerShared, MqttSession, Will } from './session.js';
import { buildEnvelope } from './envelope.js';

export type { Will } from './session.js';

export function publishWill(conn: MqttSession, will: Will): void {
  const payload = typeof will.payload === 'string' ? Buffer.from(will.payload) : will.payload;
  const env = buildEnvelope(
    conn.listener,
    conn.source,
    will.topic,
    payload,
    will.qos ?? 0,
    will.properties,
    Date.now(),
    undefined,
    will.retain && conn.shared.options.retainAvailable,
  );
  const log = conn.log;
  conn.shared.ctx.pipeline.handle(env).then(
    (outcome) => {
      if (outcome.kind === 'accepted') log.info({ topic: will.topic, messageId: env.id }, 'will message delivered');
      else
        log.warn({ topic: will.topic, messageId: env.id, outcome: outcome.kind, status: outcome.status, reason: outcome.reason }, 'will message not accepted');
    },
    (err: unknown) => log.error({ err }, 'will message failed'),
  );
}

/** Wills waiting for their delay, by client id: per gateway (its device registry), so a reconnect through any MQTT listener counts. */
const waiting = new WeakMap<object, Map<string, { readonly timer: NodeJS.Timeout; readonly listener: string }>>();

function tableOf(shared: ListenerShared): Map<string, { readonly timer: NodeJS.Timeout; readonly listener: string }> {
  let table = waiting.get(shared.ctx.devices);
  if (!table) waiting.set(shared.ctx.devices, (table = new Map()));
  return table;
}

/**
 * The connection closed with its Will due: published now, or after the Will
 * Delay Interval (capped by `sessionSeconds`, how long its session outlives
 * the connection; 0 when it ended with it).
 */
export function willOnClose(conn: MqttSession, will: Will, sessionSeconds: number): void {
  const delay = conn.version === 5 ? Math.min(will.properties?.willDelayInterval ?? 0, sessionSeconds) : 0;
  if (delay <= 0) {
    publishWill(conn, will);
    return;
  }
  const holder = conn.shared.ctx.devices.lookup(conn.clientId);
  if (holder !== undefined && holder !== conn) {
    conn.log.info({ topic: will.topic }, 'will message deleted: a new connection holds the client id [MQTT-3.1.3-9]');
    return;
  }
  const table = tableOf(conn.shared);
  clearTimeout(table.get(conn.clientId)?.timer);
  const timer = setTimeout(() => {
    if (table.get(conn.clientId)?.timer === timer) table.delete(conn.clientId);
    publishWill(conn, will);
  }, delay * 1000);
  timer.unref();
  table.set(conn.clientId, { timer, listener: conn.listener });
  conn.log.debug({ topic: will.topic, delaySeconds: delay }, 'will message delayed');
}

/** A new connection for `clientId` is admitted: a Will still waiting for its delay is deleted [MQTT-3.1.3-9]. */
export function cancelDelayedWill(shared: ListenerShared, clientId: string): boolean {
  const table = tableOf(shared);
  const entry = table.get(clientId);
  if (entry === undefined) return false;
  clearTimeout(entry.timer);
  table.delete(clientId);
  return true;
}

/** A listener stops: the Wills of its connections still waiting are dropped. */
export function dropDelayedWills(shared: ListenerShared, listener: string): void {
  const table = tableOf(shared);
  for (const [clientId, e] of table) {
    if (e.listener !== listener) continue;
    clearTimeout(e.timer);
    table.delete(clientId);
  }
}
