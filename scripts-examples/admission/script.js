/// <reference path="../../types/thinggate.d.ts" />
/**
 * Admission control in onConnect: only client ids of the form
 * `{tenant}-{serial}` of known tenants may connect, with their tenant's
 * token as password; the tenant is attached to the identity, and every
 * message carries it to the back-end.
 */
/** @type {Record<string, string>} */
const TOKENS = { acme: 's3cret-acme', globex: 's3cret-globex' };

/**
 * @param {import('../../types/thinggate.js').Client} client
 */
export function onConnect(client) {
  const m = /^([a-z]+)-(\d{4,})$/.exec(client.clientId);
  if (!m) return reject('client id must look like tenant-0001', 403);
  const tenant = m[1];
  if (!(tenant in TOKENS)) return reject(`unknown tenant '${tenant}'`, 403);
  if (client.password !== TOKENS[tenant]) return reject('bad token', 401);
  return accept({ principal: client.clientId, attributes: { tenant, serial: m[2] } });
}

/**
 * @param {import('../../types/thinggate.js').Message} msg
 */
export function onMessage(msg) {
  const tenant = msg.identity?.attributes.tenant;
  if (!tenant) return reject('not admitted through onConnect', 403);
  return route('ingest', { path: `/tenants/${tenant}/messages`, headers: { 'x-tenant': tenant } });
}
