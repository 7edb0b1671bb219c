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
 * holds the client id). A waiting Will is also kept with its parked session
 * in the session store ({@link storedWill}), so a gateway restarted on a
 * durable store publishes it when its delay passes ({@link restoreWill}),
 * unless the client reconnected first. A store shared by nodes (Redis) is
 * swept instead (sweep.ts): any live node publishes a Will whose delay has
 * passed, also one of a dead node's connection, whose session the store
 * keeps with the Will while the connection lives ({@link heldWill}).
 * Whoever publishes a stored Will claims it from the store first
 * (SessionStore.claimWill), so that it goes out once. A gateway that stops
 * drops the timers, not the stored Wills.
 */
import type { Logger } from 'pino';
import type { Source } from '../../envelope/index.js';
import type { HeldWill, StoredWill } from '../../state/sessions.js';
import type { ListenerShared, MqttSession, Will } from './session.js';
import { buildEnvelope } from './envelope.js';

export type { Will } from './session.js';

/** Who a Will is published for: its connection, or the record of it a restarted gateway read. */
interface WillSource {
  readonly shared: ListenerShared;
  readonly listener: string;
  readonly clientId: string;
  readonly source: Source;
  readonly log: Logger;
}

export function publishWill(conn: WillSource, will: Will): void {
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
  const delay = willDelay(conn, will, sessionSeconds);
  if (delay <= 0) {
    publishWill(conn, will);
    return;
  }
  if (!holdsClientId(conn)) {
    conn.log.info({ topic: will.topic }, 'will message deleted: a new connection holds the client id [MQTT-3.1.3-9]');
    return;
  }
  arm(conn, will, delay * 1000);
  conn.log.debug({ topic: will.topic, delaySeconds: delay }, 'will message delayed');
}

/** Seconds the Will waits once the connection closes: 0 for v3.1.1 and when the session ends with the connection. */
function willDelay(conn: MqttSession, will: Will, sessionSeconds: number): number {
  return conn.version === 5 ? Math.min(will.properties?.willDelayInterval ?? 0, sessionSeconds) : 0;
}

/** False once a new connection holds the client id (a takeover): the old connection's Will is deleted [MQTT-3.1.3-9]. */
function holdsClientId(conn: MqttSession): boolean {
  const holder = conn.shared.ctx.devices.lookup(conn.clientId);
  return holder === undefined || holder === conn;
}

/** Publishes the Will after `ms` unless cancelled, once claimed from the store. */
function arm(from: WillSource, will: Will, ms: number): void {
  const table = tableOf(from.shared);
  clearTimeout(table.get(from.clientId)?.timer);
  const timer = setTimeout(() => {
    if (table.get(from.clientId)?.timer === timer) table.delete(from.clientId);
    void claimAndPublish(from, will);
  }, ms);
  timer.unref();
  table.set(from.clientId, { timer, listener: from.listener });
}

/**
 * Publishes a delayed Will whose time came if the store still has it: not
 * when another node claimed it first, or its session was resumed or ended
 * meanwhile. A store that does not answer (a Redis outage) cannot tell: the
 * Will goes out rather than being lost (it may then go out twice).
 */
async function claimAndPublish(from: WillSource, will: Will): Promise<void> {
  const store = from.shared.sessions.store;
  if (!store.claimWill) {
    publishWill(from, will);
    await store.clearWill?.(from.clientId).catch((err: unknown) => from.log.warn({ err }, 'session store: the published will could not be removed'));
    return;
  }
  try {
    if (!(await store.claimWill(from.clientId))) {
      from.log.debug({ topic: will.topic }, 'delayed will message already published or deleted');
      return;
    }
  } catch (err) {
    from.log.warn({ err }, 'session store: the delayed will could not be claimed; publishing it');
  }
  publishWill(from, will);
}

/** The Will as the store keeps it: JSON, with its source (without TLS details). */
interface WillRecord {
  readonly topic: string;
  readonly payload: string;
  readonly qos?: number;
  readonly retain?: boolean;
  readonly properties?: Record<string, unknown>;
  readonly source: Source;
}

function willRecord(conn: MqttSession, will: Will): WillRecord {
  const { correlationData, ...properties } = will.properties ?? {};
  const { tls: _tls, ...source } = conn.source;
  return {
    topic: will.topic,
    payload: (typeof will.payload === 'string' ? Buffer.from(will.payload) : will.payload).toString('base64'),
    ...(will.qos !== undefined && { qos: will.qos }),
    ...(will.retain && { retain: true }),
    properties: { ...properties, ...(correlationData !== undefined && { correlationData: correlationData.toString('base64') }) },
    source,
  };
}

/**
 * The Will a connection that was up (CONNACK sent) and is closing leaves
 * with its parked session, when it will wait for its delay; undefined otherwise.
 */
export function storedWill(conn: MqttSession, sessionSeconds: number): StoredWill | undefined {
  if (!conn.sendWill || !holdsClientId(conn)) return undefined;
  const held = heldWill(conn, sessionSeconds);
  return held && { at: Date.now() + held.delaySeconds * 1000, data: held.data };
}

/**
 * The delayed Will a connection's held session is written with (journal.ts),
 * so that it is not lost when the gateway dies before the connection ends:
 * the store then makes it due `delaySeconds` after it reads the session.
 */
export function heldWill(conn: MqttSession, sessionSeconds: number): HeldWill | undefined {
  const will = conn.will;
  if (!will) return undefined;
  const delay = willDelay(conn, will, sessionSeconds);
  return delay > 0 ? { delaySeconds: delay, data: willRecord(conn, will) } : undefined;
}

/** The Will a stored record describes, and who it is published for; undefined when unreadable. */
function fromRecord(shared: ListenerShared, listener: string, clientId: string, data: unknown): { will: Will; from: WillSource } | undefined {
  const w = data as Partial<WillRecord> | undefined;
  if (typeof w?.topic !== 'string' || typeof w.payload !== 'string' || typeof w.source !== 'object') return undefined;
  const { correlationData, ...properties } = (w.properties ?? {}) as Record<string, unknown>;
  const will = {
    topic: w.topic,
    payload: Buffer.from(w.payload, 'base64'),
    qos: (w.qos ?? 0) as 0 | 1 | 2,
    retain: w.retain === true,
    properties: { ...properties, ...(typeof correlationData === 'string' && { correlationData: Buffer.from(correlationData, 'base64') }) },
  } as Will;
  return { will, from: { shared, listener, clientId, source: w.source, log: shared.ctx.logger.child({ clientId }) } };
}

/** A stored session's Will, read after a restart: published when its delay passes unless the client reconnects first. */
export function restoreWill(shared: ListenerShared, listener: string, clientId: string, stored: StoredWill): void {
  const r = fromRecord(shared, listener, clientId, stored.data);
  if (!r) return;
  arm(r.from, r.will, Math.max(0, stored.at - Date.now()));
  r.from.log.debug({ topic: r.will.topic, at: new Date(stored.at).toISOString() }, 'delayed will message restored');
}

/** A stored Will the caller claimed from the store (its delay passed, or its session ended): published now. */
export function publishStoredWill(shared: ListenerShared, listener: string, clientId: string, stored: StoredWill): void {
  const r = fromRecord(shared, listener, clientId, stored.data);
  if (!r) return;
  cancelDelayedWill(shared, clientId);
  publishWill(r.from, r.will);
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
