/**
 * Southbound commands to MQTT devices through the REST API, with real
 * clients: MQTT.js v5 request/response with Response Topic and Correlation
 * Data, the MQTT 3.1.1 response-topic convention, offline mailboxes drained
 * in order on reconnect, expiry, bounds, cancellation, async callbacks, and
 * isolation between devices.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { client } from './mqtt-support.js';
import { startCommandBed, type CommandBed } from './commands-support.js';
import { run, until } from '../helpers/run.js';

let bed: CommandBed;
beforeAll(async () => {
  bed = await startCommandBed({ unseenDevices: ['preset-*'], limits: { maxMessagesPerDevice: 3, maxMessagesTotal: 6 }, callbackPool: 'default' });
});
afterAll(async () => {
  await bed.close();
});

type Client = Awaited<ReturnType<typeof client>>;

function messages(c: Client): IPublishPacket[] {
  const got: IPublishPacket[] = [];
  c.on('message', (_t, _p, packet) => got.push(packet));
  return got;
}

async function stateOf(clientId: string, id: string): Promise<string> {
  return (await bed.call('GET', clientId, `/${id}`)).body.state as string;
}

describe('a connected MQTT 5 device', () => {
  it('gets a notification on the default address and its record shows queued, sent and delivered with times', async () => {
    const dev = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'n1' });
    try {
      const got = messages(dev);
      await dev.subscribeAsync('commands/n1/req/#', { qos: 1 });
      const res = await bed.send('n1', { payload: { led: 'on' } });
      expect(res.status).toBe(202);
      const id = res.body.id as string;
      await until(() => got.length === 1);
      expect(got[0]!.topic).toBe(`commands/n1/req/${id}`);
      expect(JSON.parse(got[0]!.payload.toString())).toEqual({ led: 'on' });
      expect(got[0]!.properties?.userProperties?.['command-id']).toBe(id);
      expect(got[0]!.properties?.contentType).toBe('application/json');
      await until(async () => (await stateOf('n1', id)) === 'delivered');
      const rec = (await bed.call('GET', 'n1', `/${id}`)).body;
      expect(Object.keys(rec.timestamps as object)).toEqual(['queued', 'sent', 'delivered']);
    } finally {
      await dev.endAsync();
    }
  });

  it('answers a sync command through Response Topic and Correlation Data, and the API returns the response', async () => {
    const dev = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'rr1' });
    try {
      dev.on('message', (_t, payload, packet) => {
        const p = packet.properties!;
        void dev.publishAsync(p.responseTopic!, JSON.stringify({ echo: JSON.parse(payload.toString()) }), {
          qos: 1,
          properties: { correlationData: p.correlationData!, contentType: 'application/json', userProperties: { status: '201' } },
        });
      });
      await dev.subscribeAsync('commands/rr1/req/#', { qos: 1 });
      const res = await bed.send('rr1', { payload: 42, response: 'sync', timeoutMs: 5000 });
      expect(res.status).toBe(200);
      expect(res.body.state).toBe('responded');
      expect(res.body.deviceResponse).toMatchObject({ status: 201, contentType: 'application/json', json: { echo: 42 } });
      expect(bed.backend.requests.some((r) => r.url.includes('res'))).toBe(false); // the answer went to no back-end
    } finally {
      await dev.endAsync();
    }
  });

  it('answers 504 with the command when the device does not respond in time', async () => {
    const dev = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'silent' });
    try {
      await dev.subscribeAsync('commands/silent/req/#', { qos: 1 });
      const res = await bed.send('silent', { payload: 'x', encoding: 'text', response: 'sync', timeoutMs: 300 });
      expect(res.status).toBe(504);
      expect(res.body.error).toBe('TG_ERR_COMMAND_TIMEOUT');
      // The device acknowledged (PUBACK) and never answered: delivered, or still
      // sent when the PUBACK is slower than the 300 ms wait on a loaded host.
      const command = res.body.command as { id: string; state: string };
      expect(['sent', 'delivered']).toContain(command.state);
      await until(async () => (await stateOf('silent', command.id)) === 'delivered');
    } finally {
      await dev.endAsync();
    }
  });

  it('posts the response of an async command to the callback pool', async () => {
    const dev = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'as1' });
    try {
      dev.on('message', (_t, _p, packet) => {
        void dev.publishAsync(packet.properties!.responseTopic!, 'done', { qos: 1, properties: { correlationData: packet.properties!.correlationData! } });
      });
      await dev.subscribeAsync('commands/as1/req/#', { qos: 1 });
      const before = bed.backend.requests.length;
      const res = await bed.send('as1', { payload: 'go', encoding: 'text', response: 'async' });
      expect(res.status).toBe(202);
      await until(() => bed.backend.requests.slice(before).some((r) => r.url === `/commands/as1/${res.body.id as string}`));
      const cb = bed.backend.requests.slice(before).find((r) => r.url.startsWith('/commands/as1/'))!;
      expect(JSON.parse(cb.body.toString())).toMatchObject({ id: res.body.id, state: 'responded', deviceResponse: { text: 'done' } });
    } finally {
      await dev.endAsync();
    }
  });
});

describe('an MQTT 3.1.1 device (mosquitto-style response topic convention)', () => {
  it('takes the command id from the topic and answers on commands/{clientId}/res/{commandId}', async () => {
    const dev = await client(bed.mqttPort, { protocolVersion: 4, clientId: 'v311' });
    try {
      dev.on('message', (topic) => {
        const id = topic.split('/').at(-1)!;
        void dev.publishAsync(`commands/v311/res/${id}`, 'ok', { qos: 1 });
      });
      await dev.subscribeAsync('commands/v311/req/+', { qos: 1 });
      const res = await bed.send('v311', { payload: 'ping', encoding: 'text', response: 'sync', timeoutMs: 5000 });
      expect(res.status).toBe(200);
      expect((res.body.deviceResponse as { text: string }).text).toBe('ok');
    } finally {
      await dev.endAsync();
    }
  });
});

describe('mosquitto_sub (MQTT 3.1.1)', () => {
  it('receives a notification on its command topic', async () => {
    const sub = run(
      'mosquitto_sub',
      ['-h', '127.0.0.1', '-p', String(bed.mqttPort), '-i', 'mq-1', '-V', 'mqttv311', '-q', '1', '-t', 'commands/mq-1/req/+', '-C', '1', '-v'],
      15_000,
    );
    await until(() => bed.gw.gateway.devices.wants('mq-1', 'commands/mq-1/req/X'));
    const res = await bed.send('mq-1', { payload: 'hello mosquitto', encoding: 'text' });
    expect(res.status).toBe(202);
    const out = await sub;
    expect(out.code).toBe(0);
    expect(out.out.trim()).toBe(`commands/mq-1/req/${res.body.id as string} hello mosquitto`);
  });
});

describe('offline devices', () => {
  it('queues for a device seen before and drains its mailbox in order when it comes back', async () => {
    const first = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'off1' });
    await first.endAsync();
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      const res = await bed.send('off1', { payload: n, address: 'cmd/off1' });
      expect(res.status).toBe(202);
      expect(res.body.state).toBe('queued');
      ids.push(res.body.id as string);
    }
    const dev = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'off1' });
    try {
      const got = messages(dev);
      await dev.subscribeAsync('cmd/off1', { qos: 1 });
      await until(() => got.length === 3);
      expect(got.map((m) => m.payload.toString())).toEqual(['1', '2', '3']);
      await until(async () => (await Promise.all(ids.map((id) => stateOf('off1', id)))).every((s) => s === 'delivered'));
    } finally {
      await dev.endAsync();
    }
  });

  it('expires a command whose TTL passes while the device is offline, and never delivers it', async () => {
    const first = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'exp1' });
    await first.endAsync();
    const res = await bed.send('exp1', { payload: 'late', encoding: 'text', ttlMs: 100 });
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    await until(async () => (await stateOf('exp1', id)) === 'expired');
    const rec = (await bed.call('GET', 'exp1', `/${id}`)).body;
    expect(rec.reason).toMatch(/not delivered/);
    const dev = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'exp1' });
    try {
      const got = messages(dev);
      await dev.subscribeAsync('commands/exp1/req/#', { qos: 1 });
      await new Promise((r) => setTimeout(r, 200));
      expect(got).toHaveLength(0);
    } finally {
      await dev.endAsync();
    }
  });

  it('answers 404 for a device never seen unless a pattern allows it', async () => {
    const unknown = await bed.send('never-seen', { payload: 1 });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('TG_ERR_COMMAND_DEVICE_UNKNOWN');
    expect((await bed.send('preset-7', { payload: 1 })).status).toBe(202);
  });

  it('refuses with 429 and the limit when the device mailbox is full, and 507 when all mailboxes are', async () => {
    for (let i = 0; i < 3; i++) expect((await bed.send('preset-full', { payload: i })).status).toBe(202);
    const full = await bed.send('preset-full', { payload: 'one too many' });
    expect(full.status).toBe(429);
    expect(full.body).toMatchObject({ error: 'TG_ERR_MAILBOX_FULL', limit: 'device-messages', max: 3 });
    // preset-7 holds 1, preset-full 3: two more fill the total of 6
    expect((await bed.send('preset-a', { payload: 1 })).status).toBe(202);
    expect((await bed.send('preset-b', { payload: 1 })).status).toBe(202);
    const total = await bed.send('preset-c', { payload: 1 });
    expect(total.status).toBe(507);
    expect(total.body).toMatchObject({ error: 'TG_ERR_MAILBOX_FULL', limit: 'total-messages', max: 6 });
    // cancelling frees the room again
    const list = (await bed.call('GET', 'preset-full')).body.commands as Array<{ id: string }>;
    const cancelled = await bed.call('DELETE', 'preset-full', `/${list[0]!.id}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.state).toBe('cancelled');
    expect((await bed.send('preset-c', { payload: 1 })).status).toBe(202);
    for (const c of ['preset-7', 'preset-a', 'preset-b', 'preset-c', 'preset-full']) {
      for (const r of (await bed.call('GET', c)).body.commands as Array<{ id: string; state: string }>) {
        if (r.state === 'queued') await bed.call('DELETE', c, `/${r.id}`);
      }
    }
  });
});

describe('the API', () => {
  it('refuses to cancel a delivered command (409) and rejects malformed commands with the field named', async () => {
    const dev = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'api1' });
    try {
      await dev.subscribeAsync('commands/api1/req/#', { qos: 1 });
      const res = await bed.send('api1', { payload: 1 });
      await until(async () => (await stateOf('api1', res.body.id as string)) === 'delivered');
      const del = await bed.call('DELETE', 'api1', `/${res.body.id as string}`);
      expect(del.status).toBe(409);
      expect(del.body.error).toBe('TG_ERR_COMMAND_NOT_CANCELLABLE');
      const bad = await bed.send('api1', { payload: 'not base64!', encoding: 'base64' });
      expect(bad.status).toBe(400);
      expect(bad.body.message).toMatch(/^payload/);
      expect((await bed.send('api1', { ttlMs: 10 ** 12 })).body.message).toMatch(/^ttlMs/);
      expect((await bed.call('GET', 'api1', '/NOSUCHCOMMAND')).status).toBe(404);
    } finally {
      await dev.endAsync();
    }
  });
});

describe('isolation between devices', () => {
  it("does not deliver a device's commands to another device subscribed to its topics, nor take that device's answers", async () => {
    const owner = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'iso-owner' });
    const thief = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'iso-thief' });
    try {
      const stolen = messages(thief);
      await thief.subscribeAsync('commands/#', { qos: 1 });
      const mine = messages(owner);
      await owner.subscribeAsync('commands/iso-owner/req/#', { qos: 1 });
      const pending = bed.send('iso-owner', { payload: 'secret', encoding: 'text', response: 'sync', timeoutMs: 1500 });
      await until(() => mine.length === 1);
      const id = mine[0]!.topic.split('/').at(-1)!;
      // The thief answers on the owner's response address and with the owner's correlation data: neither counts.
      await thief.publishAsync(`commands/iso-owner/res/${id}`, 'forged', { qos: 1 });
      await thief.publishAsync('anything', 'forged', { qos: 1, properties: { correlationData: Buffer.from(id) } });
      const res = await pending;
      expect(res.status).toBe(504);
      expect(stolen).toHaveLength(0);
    } finally {
      await owner.endAsync();
      await thief.endAsync();
    }
  });
});
