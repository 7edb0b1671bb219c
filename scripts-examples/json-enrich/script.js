/// <reference path="../../types/thinggate.d.ts" />
/**
 * JSON transform and enrichment: a device reports {"tempF": 71.6, "hum": 40};
 * the back-end wants Celsius, named fields, the device, its tenant (an
 * identity attribute) and the time the gateway received the reading.
 */
/**
 * @param {import('../../types/thinggate.js').Message} msg
 */
export function onMessage(msg) {
  /** @type {{ tempF?: unknown, hum?: number }} */
  let reading;
  try {
    reading = msg.json();
  } catch {
    return reject('payload is not JSON', 400);
  }
  if (typeof reading.tempF !== 'number') return reject('tempF must be a number', 422);
  const body = {
    device: msg.clientId,
    tenant: msg.identity?.attributes.tenant ?? 'default',
    temperatureC: Math.round((((reading.tempF - 32) * 5) / 9) * 10) / 10,
    humidityPct: reading.hum ?? null,
    receivedAt: new Date(msg.receivedAt).toISOString(),
  };
  return route('ingest', { path: `/readings/${encodeURIComponent(msg.clientId)}`, body, headers: { 'x-schema': 'reading.v2' } });
}
