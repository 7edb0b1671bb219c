/**
 * Will messages [MQTT-3.1.2-8]: published when a connection closes without
 * DISCONNECT 0x00 (keepalive timeout, socket error, protocol violation,
 * session takeover, DISCONNECT 0x04). A Will is routed like any PUBLISH from
 * the client. Sessions end with their connection, so a v5 Will Delay Interval
 * elapses at once (the Will goes out at the earlier of the delay and the end
 * of the session, MQTT 5.0 §3.1.3.2.2).
 */
import type { MqttSession, Will } from './session.js';
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
