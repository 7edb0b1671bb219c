/// <reference path="../../types/thinggate.d.ts" />
/**
 * An inquiry answered by a back-end and replied to the device
 * (request/response): a device asks `inquiry/{device}/tariff`; the pricing
 * service answers; onResponse turns its verbose JSON into the compact reply
 * the device firmware understands. Over MQTT 5 the reply goes to the
 * message's response topic; over CoAP and HTTP it is the response.
 */
/**
 * @param {import('../../types/thinggate.js').Message} msg
 */
export function onMessage(msg) {
  const [, device, what] = msg.address.split('/');
  if (what !== 'tariff') return reject(`unknown inquiry '${what}'`, 404);
  return route('pricing', { method: 'GET', path: `/tariffs/current?device=${encodeURIComponent(device)}`, reply: true, body: '' });
}

/**
 * @param {import('../../types/thinggate.js').Response} res
 * @param {import('../../types/thinggate.js').Message} msg
 */
export function onResponse(res, msg) {
  if (res.status === 404) return reply({ err: 'unknown-device' }, { code: 404 });
  const t = /** @type {{ pricePerKwh: number, currency: string, validUntil: string }} */ (res.json());
  return reply({ p: t.pricePerKwh, c: t.currency, until: t.validUntil, d: msg.clientId });
}
