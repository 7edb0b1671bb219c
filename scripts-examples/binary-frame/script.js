/// <reference path="../../types/thinggate.d.ts" />
/**
 * Decoding a packed binary sensor frame (big-endian, 8 bytes):
 *   u8 version (1) | u16 sequence | i16 temperature (0.01 °C) | u16 humidity (0.01 %) | u8 battery (%)
 * The back-end gets JSON; a frame of the wrong size or version is rejected.
 */
const FRAME_BYTES = 8;

/**
 * @param {import('../../types/thinggate.js').Message} msg
 */
export function onMessage(msg) {
  const p = msg.payload;
  if (p.length !== FRAME_BYTES) return reject(`frame must be ${FRAME_BYTES} bytes, got ${p.length}`, 400);
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const version = view.getUint8(0);
  if (version !== 1) return reject(`unsupported frame version ${version}`, 400);
  const reading = {
    device: msg.clientId,
    seq: view.getUint16(1),
    temperatureC: view.getInt16(3) / 100,
    humidityPct: view.getUint16(5) / 100,
    batteryPct: view.getUint8(7),
  };
  return route('ingest', { path: '/frames', body: reading, key: msg.clientId });
}
