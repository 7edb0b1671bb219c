/// <reference path="../../../types/thinggate.d.ts" />
/**
 * Decodes a CBOR reading (through the route's codec), adds the device id and sends it on as CBOR.
 * @param {import('../../../types/thinggate.js').Message} msg
 */
export function onMessage(msg) {
  const reading = /** @type {Record<string, unknown>} */ (msg.decode());
  return route(undefined, { path: `/readings/${msg.clientId}`, body: { device: msg.clientId, ...reading } });
}
