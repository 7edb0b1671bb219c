/**
 * Scripts command devices with the `command(clientId, payload, options)`
 * decision: the command is queued in the device's mailbox like one from
 * the API, and a device that connects later receives it.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { until } from '../helpers/run.js';
import { ScriptDir } from '../unit/scripting/support.js';
import { client } from './mqtt-support.js';
import { startCommandBed, type CommandBed } from './commands-support.js';

const dir = new ScriptDir();
let bed: CommandBed;
beforeAll(async () => {
  dir.write(
    'relay.js',
    `export function onMessage(msg) {
  const order = msg.json();
  return command(order.to, { say: order.say }, { address: 'orders/' + order.to, qos: 1, ttlMs: 60000 });
}`,
  );
  bed = await startCommandBed(
    { unseenDevices: ['sc-*'] },
    {
      routes: [
        { match: { address: 'relay' }, script: join(dir.path, 'relay.js') },
        { match: { address: '#' }, pool: 'default' },
      ],
    },
  );
});
afterAll(async () => {
  await bed.close();
  dir.remove();
});

it('queues a script command for an offline device and delivers it when the device subscribes', async () => {
  const sender = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'sc-sender' });
  await sender.publishAsync('relay', JSON.stringify({ to: 'sc-target', say: 'hi' }), { qos: 1 });
  await sender.endAsync();
  const queued = (await bed.call('GET', 'sc-target')).body.commands as Array<{ state: string; address: string }>;
  expect(queued).toMatchObject([{ state: 'queued', address: 'orders/sc-target' }]);
  const dev = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'sc-target' });
  try {
    const got: IPublishPacket[] = [];
    dev.on('message', (_t, _p, packet) => got.push(packet));
    await dev.subscribeAsync('orders/sc-target', { qos: 1 });
    await until(() => got.length === 1);
    expect(JSON.parse(got[0]!.payload.toString())).toEqual({ say: 'hi' });
  } finally {
    await dev.endAsync();
  }
});
