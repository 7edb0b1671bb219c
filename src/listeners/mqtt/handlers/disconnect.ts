/**
 * DISCONNECT from the client. It reaches this handler only once the
 * validation layer found it well-formed (validate.ts): a malformed one
 * closes the connection as a violation and the Will is published
 * [MQTT-3.1.2-8]. Reason 0x00 discards the Will [MQTT-3.14.4-3]; any other
 * reason (0x04 Disconnect with Will Message, or an error) keeps it, so it is
 * published when the connection closes.
 */
import type { IDisconnectPacket } from 'mqtt-packet';
import type { MqttSession } from '../session.js';
import { RC } from '../reason-codes.js';
import { protocolError } from '../violation.js';

export function handleDisconnect(c: MqttSession, p: IDisconnectPacket): void {
  const rc = p.reasonCode ?? RC.NORMAL_DISCONNECTION;
  // MQTT 5.0 §3.14.2.2.2: a non-zero Session Expiry Interval here is a Protocol Error only when CONNECT's was 0.
  if (c.version === 5 && c.connectSessionExpiry === 0 && (p.properties?.sessionExpiryInterval ?? 0) > 0) {
    throw protocolError('MQTT-3.14.2.2.2', 'DISCONNECT sets a session expiry interval where CONNECT had 0');
  }
  const expiry = p.properties?.sessionExpiryInterval;
  if (c.version === 5 && expiry !== undefined) c.setSessionExpiry(Math.min(expiry, c.shared.options.sessions.maxExpirySeconds));
  c.sendWill = c.version === 5 ? rc !== RC.NORMAL_DISCONNECTION : false;
  c.log.debug({ reasonCode: rc }, 'client disconnected');
  c.end();
}
