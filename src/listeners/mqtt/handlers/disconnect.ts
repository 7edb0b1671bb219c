/**
 * DISCONNECT from the client. Reason 0x00 discards the Will [MQTT-3.14.4-3];
 * 0x04 (Disconnect with Will Message) keeps it, so it is published when the
 * connection closes. A v5 client must not raise the Session Expiry Interval
 * from 0 here [MQTT-3.14.2-2].
 */
import type { IDisconnectPacket } from 'mqtt-packet';
import type { MqttConnection } from '../connection.js';
import { RC } from '../reason-codes.js';
import { protocolError } from '../violation.js';

export function handleDisconnect(c: MqttConnection, p: IDisconnectPacket): void {
  const rc = p.reasonCode ?? RC.NORMAL_DISCONNECTION;
  if (c.version === 5 && (p.properties?.sessionExpiryInterval ?? 0) > 0) {
    throw protocolError('MQTT-3.14.2-2', 'DISCONNECT raises the session expiry interval from 0');
  }
  c.sendWill = c.version === 5 ? rc !== RC.NORMAL_DISCONNECTION : false;
  c.log.debug({ reasonCode: rc }, 'client disconnected');
  c.end();
}
