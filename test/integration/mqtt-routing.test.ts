/**
 * Wildcard routes and path placeholders, and back-end replies delivered on
 * the v5 Response Topic with the request's Correlation Data.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { client, startBed, type MqttTestBed } from './mqtt-support.js';

let bed: MqttTestBed;
beforeAll(async () => {
  bed = await startBed({
    routes: [
      { match: { address: 'sensors/+/temp' }, pool: 'default', request: { method: 'PUT', path: '/t/{clientId}/{address.1}' } },
      { match: { address: 'rpc/#' }, pool: 'default', request: { method: 'POST', path: '/rpc/{address.1}', reply: true } },
      { match: { address: 'cmd/#' }, pool: 'default', request: { method: 'POST', path: '/c/{address}', headers: { 'x-extra': 'yes' } } },
    ],
  });
});
afterAll(async () => {
  await bed.close();
});

it('routes by wildcard and fills {clientId} and {address.N}', async () => {
  const c = await client(bed.port, { protocolVersion: 5, clientId: 'dev-7' });
  try {
    const before = bed.backend.requests.length;
    await c.publishAsync('sensors/kitchen/temp', '21.5', { qos: 1 });
    await c.publishAsync('cmd/a/b/c', 'go', { qos: 1 });
    await bed.backend.waitFor(before + 2);
    const [t, cmd] = bed.backend.requests.slice(before);
    expect(t!.method).toBe('PUT');
    expect(t!.url).toBe('/t/dev-7/kitchen');
    expect(t!.body.toString()).toBe('21.5');
    expect(cmd!.url).toBe('/c/cmd/a/b/c');
    expect(cmd!.headers['x-extra']).toBe('yes');
  } finally {
    await c.endAsync();
  }
});

it('answers 0x90 for a topic no route matches', async () => {
  const c = await client(bed.port, { protocolVersion: 5 });
  try {
    const err = await c.publishAsync('nowhere/at/all', 'x', { qos: 1 }).then(
      () => undefined,
      (e: unknown) => e as { code?: number },
    );
    expect(err?.code).toBe(0x90);
  } finally {
    await c.endAsync();
  }
});

it('publishes the back-end reply on the response topic with the same correlation data', async () => {
  bed.backend.responder = () => ({ status: 200, body: '{"ok":true}', headers: { 'content-type': 'application/json' } });
  const c = await client(bed.port, { protocolVersion: 5, clientId: 'requester' });
  try {
    const got = new Promise<IPublishPacket>((resolve) => c.once('message', (_t, _p, packet) => resolve(packet)));
    await c.publishAsync('rpc/status', 'ask', { qos: 1, properties: { responseTopic: 'replies/requester', correlationData: Buffer.from('c-42') } });
    const reply = await got;
    expect(reply.topic).toBe('replies/requester');
    expect(reply.payload.toString()).toBe('{"ok":true}');
    expect(reply.properties?.correlationData?.toString()).toBe('c-42');
    expect(reply.properties?.contentType).toBe('application/json');
  } finally {
    bed.backend.responder = () => ({ status: 200, body: 'ok' });
    await c.endAsync();
  }
});
