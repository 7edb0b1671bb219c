/**
 * Switching the mirror on for one client id at run time from the admin API:
 * a route mirror that copies nobody by configuration (`clientIds: []`) copies
 * that client's messages to its pool until the client is switched off.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startAdminBed, type AdminBed } from './admin-support.js';
import { client } from './mqtt-support.js';
import { TestBackend } from '../helpers/backend.js';
import { until } from '../helpers/run.js';

let bed: AdminBed;
let tap: TestBackend;
let a: MqttClient;
let b: MqttClient;

beforeAll(async () => {
  tap = await TestBackend.start();
  bed = await startAdminBed({
    token: 'tok',
    pools: (url) => [
      { name: 'default', endpoints: [{ url }], retries: { maxAttempts: 1 } },
      { name: 'tap', endpoints: [{ url: tap.url }], retries: { maxAttempts: 1 } },
    ],
    routes: [{ name: 'all', match: { address: '#' }, pool: 'default', mirror: { pool: 'tap', clientIds: [] } }],
  });
  a = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'dev-a' });
  b = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'dev-b' });
});

afterAll(async () => {
  a?.end(true);
  b?.end(true);
  await bed?.close();
  await tap?.close();
});

/** Client ids of the copies the mirror pool received, in order. */
const copies = (): string[] =>
  tap.requests.flatMap((r) =>
    r.body
      .toString()
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { clientId: string }).clientId),
  );

const post = (clientId: string, body?: unknown) =>
  bed.api(`/api/v1/mirror/clients/${clientId}`, {
    method: 'POST',
    ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });

it('copies nobody until a client is switched on, then only that client, until it is switched off', async () => {
  const sent = bed.backend.requests.length;
  await a.publishAsync('t/1', 'a1', { qos: 1 });
  await b.publishAsync('t/1', 'b1', { qos: 1 });
  await bed.backend.waitFor(sent + 2);

  const on = await post('dev-a', { ttlSeconds: 600 });
  expect(on.status).toBe(201);
  expect(await on.json()).toMatchObject({ clientId: 'dev-a', routes: ['all'], expiresAt: expect.any(Number) });
  const state = (await (await bed.api('/api/v1/mirror')).json()) as { routes: unknown[]; clients: Array<{ clientId: string }> };
  expect(state.routes).toEqual([{ route: 'all', pool: 'tap', sample: 1, clientIds: [] }]);
  expect(state.clients.map((c) => c.clientId)).toEqual(['dev-a']);

  await a.publishAsync('t/2', 'a2', { qos: 1 });
  await b.publishAsync('t/2', 'b2', { qos: 1 });
  await until(() => copies().length >= 1);

  expect((await bed.api('/api/v1/mirror/clients/dev-a', { method: 'DELETE' })).status).toBe(200);
  expect(await (await bed.api('/api/v1/mirror/clients')).json()).toEqual([]);
  await a.publishAsync('t/3', 'a3', { qos: 1 });
  // dev-b switched on afterwards: its copy arrives after anything dev-a's t/3 could have produced (one sink, in order).
  expect((await post('dev-b')).status).toBe(201);
  await b.publishAsync('t/3', 'b3', { qos: 1 });
  await until(() => copies().length >= 2);
  expect(copies()).toEqual(['dev-a', 'dev-b']);
});

it('refuses a bad expiry and says when the client was not switched on', async () => {
  expect((await post('dev-c', { ttlSeconds: 0 })).status).toBe(400);
  expect((await post('dev-c', { ttlSeconds: 'soon' })).status).toBe(400);
  expect((await bed.api('/api/v1/mirror/clients/dev-c', { method: 'DELETE' })).status).toBe(404);
  expect((await bed.api('/api/v1/mirror/clients/dev-c', { method: 'POST', token: null })).status).toBe(401);
});
