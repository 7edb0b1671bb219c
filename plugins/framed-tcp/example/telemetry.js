/// <reference path="../../../types/thinggate.d.ts" />
/**
 * The routing script of the worked example: the listener has taken off the
 * length prefix and the 8-byte header (device id, sequence); the payload is
 * the 5-byte body: i16 temperature (0.01 °C) | u16 humidity (0.01 %) | u8 battery (%).
 * @param {import('../../../types/thinggate.js').Message} msg
 */
export function onMessage(msg) {
  const p = msg.payload;
  if (p.length !== 5) return reject(`telemetry body must be 5 bytes, got ${p.length}`, 400);
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  return route(undefined, {
    path: `/telemetry/${msg.clientId}`,
    body: { device: msg.clientId, celsius: v.getInt16(0) / 100, humidity: v.getUint16(2) / 100, battery: v.getUint8(4) },
  });
}
