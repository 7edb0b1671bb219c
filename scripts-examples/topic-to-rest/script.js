/// <reference path="../../types/thinggate.d.ts" />
/**
 * Topic → REST path mapping.
 * telemetry/{site}/{device}/{metric}  →  PUT /sites/{site}/devices/{device}/metrics/{metric}
 * events/{device}                     →  POST /devices/{device}/events
 * anything else                       →  rejected (404)
 */
/**
 * @param {import('../../types/thinggate.js').Message} msg
 */
export function onMessage(msg) {
  const parts = msg.address.split('/');
  if (parts[0] === 'telemetry' && parts.length === 4) {
    const [, site, device, metric] = parts.map(encodeURIComponent);
    return route('ingest', { method: 'PUT', path: `/sites/${site}/devices/${device}/metrics/${metric}` });
  }
  if (parts[0] === 'events' && parts.length === 2) {
    return route('ingest', { method: 'POST', path: `/devices/${encodeURIComponent(parts[1])}/events`, key: parts[1] });
  }
  return reject(`no mapping for '${msg.address}'`, 404);
}
