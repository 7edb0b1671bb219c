/**
 * A command to a CoAP device: coap-client-notls observes its command
 * resource (RFC 7641); the command arrives as a CON notification and is
 * delivered once the client ACKs it.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { until } from '../helpers/run.js';
import { startCommandBed, type CommandBed } from './commands-support.js';

let bed: CommandBed;
beforeAll(async () => {
  bed = await startCommandBed(
    {},
    {
      listeners: [
        { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
        { name: 'coap', protocol: 'coap', host: '127.0.0.1', port: 0 },
      ],
    },
  );
});
afterAll(async () => {
  await bed.close();
});

it('notifies an observer of its command resource and marks the command delivered on the ACK', async () => {
  const child = spawn('coap-client-notls', ['-m', 'get', '-s', '8', `coap://127.0.0.1:${bed.gw.port('coap')}/commands/lamp`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  try {
    // The observer's client id is its source address and port (no identity configured).
    let clientId = '';
    await until(() => {
      for (const s of bed.gw.gateway.devices.sessions()) if (s.listener === 'coap') clientId = s.clientId;
      return clientId !== '';
    });
    const res = await bed.send(clientId, { address: 'commands/lamp', payload: 'blink', encoding: 'text', qos: 1 });
    expect(res.status).toBe(202);
    await until(() => out.includes('blink'));
    await until(async () => (await bed.call('GET', clientId, `/${res.body.id as string}`)).body.state === 'delivered');
  } finally {
    child.kill('SIGTERM');
  }
});
