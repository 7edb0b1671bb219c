/**
 * Durability of the mailbox: commands the API acknowledged (202) while
 * their device was offline survive a `kill -9` of the gateway process
 * (dist/cli.js) and are delivered, in order, after the restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { startGateway, stopGateway, type GatewayProcess } from '../helpers/cli-process.js';
import { until } from '../helpers/run.js';
import { client } from './mqtt-support.js';

const dir = mkdtempSync(join(tmpdir(), 'tg-cmd-restart-'));
const running: GatewayProcess[] = [];
afterAll(async () => {
  for (const g of running) await stopGateway(g, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** A gateway process starts in well under a second on a quiet host; a loaded one (the full suite on 2 cores) may take many. */
const START_MS = 60_000;

/** A gateway on the same configuration, mailbox and state each time. */
async function start(): Promise<GatewayProcess> {
  const g = await startGateway(join(dir, 'thinggate.json'), { commands: { directory: 'mailbox', unseenDevices: ['field-*'] } });
  running.push(g);
  return g;
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
    await stopGateway(first, 'SIGKILL');

    const second = await start();
    const dev = await client(second.port, { protocolVersion: 5, clientId: 'field-1' });
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
      await stopGateway(second);
    }
  },
  3 * START_MS,
);
