/**
 * Durability of the mailbox: commands the API acknowledged (202) while
 * their device was offline survive a `kill -9` of the gateway process
 * (dist/cli.js) and are delivered, in order, after the restart.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { listenerPort, startCli, type Running } from '../helpers/cli-process.js';
import { until } from '../helpers/run.js';
import { client } from './mqtt-support.js';

const dir = mkdtempSync(join(tmpdir(), 'tg-cmd-restart-'));
const running: Running[] = [];
afterAll(async () => {
  for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const config = join(dir, 'thinggate.json');
writeFileSync(
  config,
  JSON.stringify({
    listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
    pools: [{ name: 'default', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
    routes: [{ match: { address: '#' }, pool: 'default' }],
    admin: { host: '127.0.0.1', port: 0 },
    commands: { directory: 'mailbox', unseenDevices: ['field-*'] },
    guard: { stateDir: 'guard' },
  }),
);

/** A gateway process starts in well under a second on a quiet host; a loaded one (the full suite on 2 cores) may take many. */
const START_MS = 60_000;

async function start(): Promise<{ r: Running; mqtt: number; admin: string }> {
  const r = startCli(config);
  running.push(r);
  const started = await r.waitLog((l) => l.msg === 'thinggate started', START_MS);
  const mqtt = await listenerPort(r);
  return { r, mqtt, admin: String(started.admin).replace(/\/$/, '') };
}

it(
  'delivers commands queued before a kill -9 after the restart, in order',
  async () => {
    const first = await start();
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      const res = await fetch(`${first.admin}/api/v1/devices/field-1/commands`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ payload: { n }, address: 'cmd/field-1' }),
      });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    }
    first.r.child.kill('SIGKILL');
    await first.r.exited;

    const second = await start();
    const dev = await client(second.mqtt, { protocolVersion: 5, clientId: 'field-1' });
    try {
      const got: IPublishPacket[] = [];
      dev.on('message', (_t, _p, packet) => got.push(packet));
      await dev.subscribeAsync('cmd/field-1', { qos: 1 });
      await until(() => got.length >= 3, 10_000);
      expect(got.map((m) => JSON.parse(m.payload.toString()) as { n: number })).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
      await until(async () => {
        const list = (await (await fetch(`${second.admin}/api/v1/devices/field-1/commands`)).json()) as { commands: Array<{ id: string; state: string }> };
        return list.commands.map((c) => c.id).join() === ids.join() && list.commands.every((c) => c.state === 'delivered');
      });
    } finally {
      await dev.endAsync();
      second.r.child.kill('SIGTERM');
      await second.r.exited;
    }
  },
  3 * START_MS,
);
