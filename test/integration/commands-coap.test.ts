/**
 * A command to a CoAP device: coap-client-notls observes its command
 * resource (RFC 7641); the command arrives as a CON notification and is
 * delivered once the client ACKs it. A device that polls GETs `commands`
 * instead: the next queued command comes back as a separate CON response
 * (delivered on its ACK) naming where to answer in Location-Path.
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { until } from '../helpers/run.js';
import { startCommandBed, type CommandBed } from './commands-support.js';

let bed: CommandBed;
beforeAll(async () => {
  bed = await startCommandBed(
    { unseenDevices: ['127.0.0.1:*'] },
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

/** A UDP port free now: coap-client-notls binds it with -p, so two invocations are the same device (client id 127.0.0.1:port). */
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Runs coap-client-notls to completion; its stdout and stderr (verbose output goes there too). */
function coapClient(args: string[]): Promise<{ out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('coap-client-notls', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), 30_000);
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve({ out, err });
    });
  });
}

it('answers a GET of commands with the next queued command, and the device answers on the Location-Path', async () => {
  const port = await freeUdpPort();
  const device = `127.0.0.1:${port}`;
  const gw = `coap://127.0.0.1:${bed.gw.port('coap')}`;
  const empty = await coapClient(['-m', 'get', '-p', String(port), `${gw}/commands`]);
  expect(`${empty.out}${empty.err}`).toContain('4.04');

  const sync = bed.send(device, { payload: 'open', encoding: 'text', response: 'sync', timeoutMs: 30_000 });
  let id = '';
  await until(async () => {
    const list = (await bed.call('GET', device)).body.commands as Array<{ id: string; state: string }> | undefined;
    id = list?.[0]?.id ?? '';
    return list?.[0]?.state === 'queued';
  });
  const got = await coapClient(['-m', 'get', '-p', String(port), '-v', '7', `${gw}/commands`]);
  expect(got.out).toContain('open');
  // The separate CON response (RFC 7252 §5.2.2) names the response address in Location-Path.
  expect(got.out + got.err).toMatch(
    new RegExp(`t:CON c:2\\.05 .*Location-Path:commands, Location-Path:${device.replaceAll('.', '\\.')}, Location-Path:res, Location-Path:${id}`),
  );
  await until(async () => (await bed.call('GET', device, `/${id}`)).body.state === 'delivered');

  await coapClient(['-m', 'post', '-p', String(port), '-e', 'done', `${gw}/commands/${device}/res/${id}`]);
  const answered = await sync;
  expect(answered.status).toBe(200);
  expect(answered.body.state).toBe('responded');
  expect((answered.body.deviceResponse as { text: string }).text).toBe('done');
  const again = await coapClient(['-m', 'get', '-p', String(port), `${gw}/commands`]);
  expect(`${again.out}${again.err}`).toContain('4.04');
});

it('holds a GET of commands?wait=S until a command arrives', async () => {
  const port = await freeUdpPort();
  const device = `127.0.0.1:${port}`;
  const poll = coapClient(['-m', 'get', '-p', String(port), '-B', '30', `coap://127.0.0.1:${bed.gw.port('coap')}/commands?wait=20`]);
  await until(() => bed.gw.gateway.devices.lookup(device) !== undefined);
  const res = await bed.send(device, { payload: 'late', encoding: 'text' });
  expect(res.status).toBe(202);
  expect((await poll).out).toContain('late');
  await until(async () => (await bed.call('GET', device, `/${res.body.id as string}`)).body.state === 'delivered');
});
