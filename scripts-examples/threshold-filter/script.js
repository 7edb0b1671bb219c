/// <reference path="../../types/thinggate.d.ts" />
/**
 * Threshold filtering with drop: only readings outside the normal band reach
 * the back-end (as alarms); normal readings are acknowledged and dropped.
 * The band can be given per message in a `x-max` header (MQTT 5 user property).
 */
const DEFAULT_MAX = 80;
const MIN = 0;

/**
 * @param {import('../../types/thinggate.js').Message} msg
 * @param {import('../../types/thinggate.js').Context} ctx
 */
export function onMessage(msg, ctx) {
  const value = Number(msg.text());
  if (!Number.isFinite(value)) return reject('payload must be a number', 400);
  const max = msg.headers['x-max'] !== undefined ? Number(msg.headers['x-max']) : DEFAULT_MAX;
  if (value >= MIN && value <= max) return drop(`within ${MIN}..${max}`);
  ctx.log.warn('alarm', msg.clientId, value);
  return route('alerts', { path: `/alarms/${encodeURIComponent(msg.clientId)}`, body: { value, max, at: ctx.now() } });
}
