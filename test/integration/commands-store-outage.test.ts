/**
 * Command delivery when the mailbox stops answering: a shared mailbox on a
 * redis-server that is stopped after the command was handed to the device.
 * The settlement's write fails; it is reported, never left as an unhandled
 * rejection (which ends a Node.js process).
 */
import { expect, it } from 'vitest';
import type { CommandsConfig } from '../../src/config/types.js';
import { DeviceRegistry, type DeviceMessage, type Subscriber } from '../../src/devices/registry.js';
import { MailboxDelivery } from '../../src/devices/commands/delivery.js';
import { CommandService } from '../../src/devices/commands/service.js';
import { Metrics } from '../../src/observability/metrics.js';
import type { NewCommand } from '../../src/state/mailbox.js';
import { RedisMailboxStore } from '../../src/state/redis/mailbox.js';
import { logSink } from '../helpers/log-sink.js';
import { withRedis } from '../helpers/with-redis.js';

const redis = withRedis();
const LIMITS = { maxMessagesPerDevice: 10, maxBytesPerDevice: 1000, maxMessagesTotal: 10 };

function command(id: string): NewCommand {
  const now = Date.now();
  return {
    id,
    clientId: 'dev-1',
    address: 'commands/dev-1',
    payload: Buffer.from('reboot').toString('base64'),
    qos: 1,
    response: 'none',
    size: 6,
    expiresAt: now + 60_000,
    createdAt: now,
  };
}

it('reports a settlement the shared mailbox could not write, and leaves no unhandled rejection', async () => {
  const store = new RedisMailboxStore(await redis.link('outage-delivery:'));
  expect((await store.enqueue(command('cmd-1'), LIMITS)).ok).toBe(true);
  const devices = new DeviceRegistry();
  const session: Subscriber = { clientId: 'dev-1', listener: 'mqtt', deliver: () => true };
  devices.connect(session);
  const taken: DeviceMessage[] = [];
  const failures: Array<{ operation: string; commandId?: string | undefined }> = [];
  const states: string[] = [];
  const delivery = new MailboxDelivery({
    store,
    devices,
    listener: () => ({ protocol: 'http', deliver: (_id, m) => (taken.push(m), true) }),
    now: Date.now,
    changed: (r) => states.push(r.state),
    failed: (_err, what) => failures.push({ operation: what.operation, commandId: what.commandId }),
  });
  const rejections: unknown[] = [];
  const onRejection = (err: unknown): void => {
    rejections.push(err);
  };
  process.on('unhandledRejection', onRejection);
  try {
    delivery.kick('dev-1');
    await expect.poll(() => states).toEqual(['sent']);
    await redis.server.stop(); // kill -9: the mailbox no longer answers
    taken[0]!.onSettled!(true);
    await expect.poll(() => failures, { timeout: 10_000 }).toEqual([{ operation: 'transition to delivered', commandId: 'cmd-1' }]);
    await new Promise((r) => setImmediate(r));
    expect(rejections).toEqual([]);
  } finally {
    process.off('unhandledRejection', onRejection);
    await redis.server.start();
  }
});

it("ends a sync command's wait with the state last seen when the shared mailbox stops answering", async () => {
  const store = new RedisMailboxStore(await redis.link('outage-wait:'));
  const queued = await store.enqueue(command('cmd-2'), LIMITS);
  if (!queued.ok) throw new Error('not queued');
  const { logger, lines: logs } = logSink();
  const service = new CommandService({
    store,
    config: () => ({}) as CommandsConfig,
    devices: new DeviceRegistry(),
    listener: () => undefined,
    callback: async () => ({ ok: true, detail: '' }),
    event: () => undefined,
    metrics: new Metrics(),
    logger,
  });
  try {
    let reads = 0;
    const get = store.get.bind(store);
    store.get = async (id) => {
      const r = await get(id);
      reads++;
      return r;
    };
    const waiting = service.waitFinal(queued.record, 2000);
    await expect.poll(() => reads).toBe(1); // its first read, while Redis answers
    await redis.server.stop(); // the wait's last read fails
    const seen = await waiting;
    expect(seen.state).toBe('queued');
    expect(logs.some((l) => l.commandId === 'cmd-2' && String(l.msg).includes('reading the command failed'))).toBe(true);
  } finally {
    await redis.server.start();
  }
});
