/** UNSUBSCRIBE → UNSUBACK (MQTT 5.0 §3.10, §3.11): v5 says per filter whether a subscription existed. */
import type { IUnsubackPacket, IUnsubscribePacket } from 'mqtt-packet';
import type { MqttConnection } from '../connection.js';
import { RC } from '../reason-codes.js';

export function handleUnsubscribe(c: MqttConnection, p: IUnsubscribePacket): void {
  const codes: number[] = [];
  for (const filter of p.unsubscriptions) {
    const existed = c.shared.ctx.devices.unsubscribe(c, filter);
    codes.push(existed ? RC.SUCCESS : RC.NO_SUBSCRIPTION_EXISTED);
  }
  // mqtt-packet carries the v5 per-filter reason codes in `granted`; v3.1.1 UNSUBACK has none.
  const unsuback: IUnsubackPacket = { cmd: 'unsuback', messageId: p.messageId ?? 0, granted: codes };
  c.wire.send(unsuback);
}
