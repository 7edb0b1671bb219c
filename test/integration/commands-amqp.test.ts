/**
 * A command to an AMQP 1.0 device (Qpid Proton, Debian python3-qpid-proton):
 * delivered on its receiver link, `accepted` marks it delivered, and the
 * device's answer — a message to the command's reply-to with
 * correlation-id = command id — completes a sync command.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCommandBed, type CommandBed } from './commands-support.js';

const SCRIPT = fileURLToPath(new URL('../interop/python/proton_command_device.py', import.meta.url));

let bed: CommandBed;
beforeAll(async () => {
  bed = await startCommandBed(
    { unseenDevices: ['py-*'] },
    {
      listeners: [
        { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
        { name: 'amqp', protocol: 'amqp', host: '127.0.0.1', port: 0 },
      ],
    },
  );
});
afterAll(async () => {
  await bed.close();
});

function device(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/python3', [SCRIPT, ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>);
    });
  });
}

it('delivers a sync command to a Proton receiver and returns its correlated answer', async () => {
  const url = `amqp://127.0.0.1:${bed.gw.port('amqp')}`;
  const dev = device(['--url', url, '--address', 'commands/py-1', '--container-id', 'py-1', '--answer', 'rebooting']);
  const res = await bed.send('py-1', { address: 'commands/py-1', payload: 'reboot', encoding: 'text', response: 'sync', timeoutMs: 12_000 });
  const seen = await dev;
  expect(res.status).toBe(200);
  expect(seen).toMatchObject({ body: 'reboot', correlation_id: res.body.id, reply_to: `commands/py-1/res/${res.body.id as string}`, answer: 'accepted' });
  expect(res.body.state).toBe('responded');
  expect((res.body.deviceResponse as { text: string }).text).toBe('rebooting');
  expect(Object.keys(res.body.timestamps as object)).toEqual(['queued', 'sent', 'delivered', 'responded']);
});
