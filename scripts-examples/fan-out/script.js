/// <reference path="../../types/thinggate.d.ts" />
/**
 * Fan-out notification to device topics: a fire panel reports an alarm on
 * `alarms/{building}/{zone}`; every floor display of the building gets a
 * notification on its own topic, the sirens of the zone get a retained
 * command, and the alarm is recorded by the back-end — one message, many
 * decisions, carried out concurrently.
 */
/** @type {Record<string, number>} */
const FLOORS = { hq: 3, depot: 1 };

/**
 * @param {import('../../types/thinggate.js').Message} msg
 */
export function onMessage(msg) {
  const [, building, zone] = msg.address.split('/');
  const floors = FLOORS[building];
  if (floors === undefined) return reject(`unknown building '${building}'`, 404);
  const alarm = /** @type {{ kind: string }} */ (msg.json());
  const notice = { building, zone, kind: alarm.kind, at: msg.receivedAt };
  const out = [];
  for (let f = 1; f <= floors; f++) out.push(publish(`displays/${building}/floor-${f}`, notice, { qos: 1 }));
  out.push(publish(`sirens/${building}/${zone}/command`, 'on', { qos: 1, retain: true }));
  out.push(route('records', { path: `/alarms/${building}`, body: notice }));
  return out;
}
