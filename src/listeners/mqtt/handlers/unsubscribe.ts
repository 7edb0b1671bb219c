/**
 * UNSUBSCRIBE → UNSUBACK (MQTT 5.0 §3.10, §3.11): v5 says per filter whether
 * a subscription existed. The packet itself was validated (validate.ts); an
 * invalid filter (empty [MQTT-4.7.3-1], misplaced wildcards [MQTT-4.7.1-1])
 * gets 0x8F Topic Filter invalid in v5; 3.1.1 has no per-filter code, so the
 * connection is closed [MQTT-4.8.0-1].
 */
import type { IUnsubackPacket, IUnsubscribePacket } from 'mqtt-packet';
import { filterProblem } from '../../../envelope/index.js';
import type { MqttSession } from '../session.js';
import { RC } from '../reason-codes.js';
import { MqttProtocolViolation } from '../violation.js';
import { reportInvalidFilters } from './subscribe.js';

export function handleUnsubscribe(c: MqttSession, p: IUnsubscribePacket): void {
  const codes: number[] = [];
  const problems: string[] = [];
  for (const filter of p.unsubscriptions) {
    const problem = filterProblem(filter);
    if (problem !== undefined) {
      if (c.version !== 5) throw new MqttProtocolViolation('invalid-filter', RC.TOPIC_FILTER_INVALID, 'MQTT-4.7.3-1', `UNSUBSCRIBE '${filter}': ${problem}`);
      problems.push(`${filter}: ${problem}`);
      codes.push(RC.TOPIC_FILTER_INVALID);
      continue;
    }
    const existed = c.shared.ctx.devices.unsubscribe(c, filter);
    codes.push(existed ? RC.SUCCESS : RC.NO_SUBSCRIPTION_EXISTED);
  }
  reportInvalidFilters(c, problems, 'MQTT-4.7.3-1');
  c.subscriptionsChanged?.();
  // mqtt-packet carries the v5 per-filter reason codes in `granted`; v3.1.1 UNSUBACK has none.
  const unsuback: IUnsubackPacket = { cmd: 'unsuback', messageId: p.messageId ?? 0, granted: codes };
  c.wire.send(unsuback);
}
