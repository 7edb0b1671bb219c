/**
 * Commands to HTTP devices: curl long-polls `GET /ingress/commands?wait=S`,
 * gets the next command of its mailbox (or 204 when none comes in time),
 * and answers with a POST to the reply-to address it was given.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run, until } from '../helpers/run.js';
import { startCommandBed, type CommandBed } from './commands-support.js';

let bed: CommandBed;
let base: string;
beforeAll(async () => {
  bed = await startCommandBed(
    { unseenDevices: ['hd-*'] },
    {
      listeners: [
        { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
        { name: 'http', protocol: 'http', host: '127.0.0.1', port: 0 },
      ],
    },
  );
  base = `http://127.0.0.1:${bed.gw.port('http')}/ingress`;
});
afterAll(async () => {
  await bed.close();
});

/** curl -i: the status, the lower-cased headers and the body. */
async function curl(args: string[]): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const r = await run('curl', ['-s', '-i', ...args], 20_000);
  const [head, ...rest] = r.out.split('\r\n\r\n');
  const lines = head!.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(lines[0]!.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

it('hands a queued command to a long-poll and takes the answer posted to its reply-to', async () => {
  const sync = bed.send('hd-1', { payload: { valve: 'open' }, response: 'sync', timeoutMs: 10_000 });
  const polled = await curl(['-H', 'x-client-id: hd-1', `${base}/commands?wait=10`]);
  expect(polled.status).toBe(200);
  expect(JSON.parse(polled.body)).toEqual({ valve: 'open' });
  expect(polled.headers['content-type']).toBe('application/json');
  const id = polled.headers['x-command-id']!;
  expect(polled.headers['x-correlation-id']).toBe(id);
  expect(polled.headers['x-reply-to']).toBe(`commands/hd-1/res/${id}`);
  const answer = await curl([
    '-H',
    'x-client-id: hd-1',
    '-H',
    'content-type: text/plain',
    '--data-binary',
    'opened',
    `${base}/${polled.headers['x-reply-to']!}`,
  ]);
  expect(answer.status).toBeLessThan(300);
  const res = await sync;
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ id, state: 'responded', deviceResponse: { text: 'opened' } });
});

it('answers 204 when no command comes within wait, and a later poll gets the commands in order', async () => {
  const empty = await curl(['-H', 'x-client-id: hd-2', `${base}/commands?wait=1`]);
  expect(empty.status).toBe(204);
  for (const n of [1, 2]) expect((await bed.send('hd-2', { payload: n })).status).toBe(202);
  const first = await curl(['-H', 'x-client-id: hd-2', `${base}/commands?wait=5`]);
  const second = await curl(['-H', 'x-client-id: hd-2', `${base}/commands?wait=5`]);
  expect([first.body, second.body]).toEqual(['1', '2']);
  await until(async () => ((await bed.call('GET', 'hd-2')).body.commands as Array<{ state: string }>).every((c) => c.state === 'delivered'));
});
