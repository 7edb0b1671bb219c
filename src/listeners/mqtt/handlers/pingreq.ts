/** PINGREQ → PINGRESP [MQTT-3.12.4-1]. Any packet already refreshed the keepalive clock. */
import type { MqttSession } from '../session.js';

const PINGRESP = Buffer.from([0xd0, 0x00]);

export function handlePingreq(c: MqttSession): void {
  c.wire.write(PINGRESP);
  c.shared.metrics.tx('pingresp');
}
