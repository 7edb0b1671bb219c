/**
 * Southbound to plugins/framed-tcp: commands POSTed to the commands API and
 * messages of a `target: devices` route reach the worked example's device
 * simulator over a real socket as frames carrying its header; a QoS 1
 * command is delivered only once the device acknowledged it, QoS 0 once
 * written, and one the device never acknowledged is queued again.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startCommandBed, type CommandBed } from '../../../test/integration/commands-support.js';
import { until } from '../../../test/helpers/run.js';
import { commandAck, commandDevice } from '../example/simulator.mjs';

const framed = {
  framing: { type: 'length-prefixed', lengthBytes: 2, byteOrder: 'big' },
  header: { bytes: 8, deviceId: { offset: 0, length: 6, encoding: 'hex' } },
  address: 'sensors/{deviceId}',
  downlink: { sequence: { offset: 6, length: 2 }, ack: { payload: '06', timeoutMs: 60_000 }, subscribe: ['sensors/{deviceId}/set'] },
};

let bed: CommandBed;
beforeAll(async () => {
  bed = await startCommandBed(
    {},
    {
      plugins: [{ use: join(import.meta.dirname, '../index.js') }],
      listeners: [
        { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
        { name: 'sensors', protocol: 'framed-tcp', host: '127.0.0.1', port: 0, 'framed-tcp': framed },
        // The same protocol with a short acknowledgement timeout.
        {
          name: 'hasty',
          protocol: 'framed-tcp',
          host: '127.0.0.1',
          port: 0,
          'framed-tcp': { ...framed, downlink: { ...framed.downlink, ack: { payload: '06', timeoutMs: 200 } } },
        },
      ],
      routes: [
        { name: 'set', match: { address: 'sensors/+/set' }, target: 'devices' },
        { name: 'all', match: { address: '#' }, pool: 'default' },
      ],
    },
  );
});
afterAll(async () => {
  await bed.close();
});

type Command = { state: string; attempts?: number };
const commandsOf = async (id: string): Promise<Command[]> => (await bed.call('GET', id)).body.commands as Command[];

/** A device that sent its first frame and is present in the registry. */
async function connected(device: string, options: { ack?: boolean; listener?: string } = {}): Promise<ReturnType<typeof commandDevice>> {
  const d = commandDevice({ port: bed.gw.port(options.listener ?? 'sensors'), device, ...(options.ack === false && { ack: false }) });
  await until(async () => bed.gw.gateway.devices.lookup(device) !== undefined);
  return d;
}

it('writes a command as a frame with the device header and settles it on the device acknowledgement', async () => {
  const device = await connected('0a0000000001', { ack: false });
  const sent = await bed.send('0a0000000001', { payload: 'cafe', encoding: 'base64', qos: 1 });
  expect(sent.status).toBe(202);
  await until(async () => device.commands.length === 1);
  expect(device.commands[0]!.body).toEqual(Buffer.from('cafe', 'base64'));
  // Written but not acknowledged: sent, not delivered.
  expect((await commandsOf('0a0000000001'))[0]!.state).toBe('sent');
  device.socket.write(commandAck('0a0000000001', device.commands[0]!.seq));
  await until(async () => (await commandsOf('0a0000000001'))[0]!.state === 'delivered');
  device.close();
});

it('delivers a QoS 0 command once written, with increasing sequence numbers', async () => {
  const device = await connected('0a0000000002', { ack: false });
  for (const n of ['one', 'two']) expect((await bed.send('0a0000000002', { payload: n, encoding: 'text', qos: 0 })).status).toBe(202);
  await until(async () => device.commands.length === 2);
  expect(device.commands.map((c) => c.body.toString())).toEqual(['one', 'two']);
  expect(device.commands[1]!.seq).toBe(device.commands[0]!.seq + 1);
  await until(async () => (await commandsOf('0a0000000002')).every((c) => c.state === 'delivered'));
  device.close();
});

it('queues a command again when the connection closes before the acknowledgement, and delivers it on reconnect', async () => {
  const silent = await connected('0a0000000003', { ack: false });
  await bed.send('0a0000000003', { payload: { valve: 'open' }, qos: 1 });
  await until(async () => silent.commands.length === 1);
  silent.close();
  await until(async () => (await commandsOf('0a0000000003'))[0]!.state === 'queued');
  const device = await connected('0a0000000003');
  await until(async () => (await commandsOf('0a0000000003'))[0]!.state === 'delivered');
  expect(JSON.parse(device.commands[0]!.body.toString())).toEqual({ valve: 'open' });
  device.close();
});

it('queues a command again when no acknowledgement comes within downlink.ack.timeoutMs', async () => {
  const silent = await connected('0a0000000005', { ack: false, listener: 'hasty' });
  await bed.send('0a0000000005', { payload: 'stop', encoding: 'text', qos: 1 });
  await until(async () => silent.commands.length === 1);
  await until(async () => {
    const [c] = await commandsOf('0a0000000005');
    return c!.state === 'queued' && (c as { reason?: string }).reason?.includes('no acknowledgement') === true;
  });
  silent.close();
});

it('delivers messages of a target: devices route on the subscribed address', async () => {
  const device = await connected('0a0000000004');
  await until(async () => bed.gw.gateway.devices.wants('0a0000000004', 'sensors/0a0000000004/set'));
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${bed.mqttPort}`, { clientId: 'app' });
  await client.publishAsync('sensors/0a0000000004/set', 'on', { qos: 1 });
  await until(async () => device.commands.length === 1);
  expect(device.commands[0]!.body.toString()).toBe('on');
  await client.endAsync();
  device.close();
});
