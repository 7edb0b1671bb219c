/// <reference path="../../types/thinggate.d.ts" />
/**
 * Per-device duplicate and sequence detection with ctx.state. Devices number
 * their messages ({"seq": n, ...}). A repeated or older sequence number (a
 * QoS 1 re-delivery, a replayed frame) is dropped; a gap is logged and
 * flagged to the back-end in a header. The state survives script reloads.
 */
/**
 * @param {import('../../types/thinggate.js').Message} msg
 * @param {import('../../types/thinggate.js').Context} ctx
 */
export function onMessage(msg, ctx) {
  const { seq } = /** @type {{ seq: number }} */ (msg.json());
  if (!Number.isInteger(seq) || seq < 0) return reject('seq must be a non-negative integer', 400);
  const key = `last:${msg.clientId}`;
  const last = /** @type {number | undefined} */ (ctx.state.get(key));
  if (last !== undefined && seq <= last) return drop(`duplicate or stale seq ${seq} (last ${last})`);
  ctx.state.set(key, seq);
  /** @type {Record<string, string>} */
  const headers = { 'x-seq': String(seq) };
  if (last !== undefined && seq > last + 1) {
    headers['x-seq-gap'] = String(seq - last - 1);
    ctx.log.warn(`${msg.clientId}: ${seq - last - 1} message(s) missing before seq ${seq}`);
  }
  return route('ingest', { path: `/devices/${encodeURIComponent(msg.clientId)}/data`, headers });
}
