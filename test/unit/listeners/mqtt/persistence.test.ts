import { describe, expect, it } from 'vitest';
import { DeviceRegistry, type DeviceMessage, type Subscriber } from '../../../../src/devices/registry.js';
import { MqttMetrics } from '../../../../src/listeners/mqtt/metrics.js';
import { park, retireParked, type SessionContext } from '../../../../src/listeners/mqtt/persistence.js';
import { Metrics } from '../../../../src/observability/metrics.js';
import { MemorySessionStore } from '../../../../src/state/embedded/sessions.js';
import type { StoredSession } from '../../../../src/state/sessions.js';
import { logSink } from '../../../helpers/log-sink.js';

/** A session store that stops answering (a closed database, an unreachable Redis) once `down` is set. */
class FailingStore extends MemorySessionStore<DeviceMessage> {
  down = false;
  expired = 0;
  override async expire(now: number): Promise<Array<StoredSession<DeviceMessage>>> {
    this.expired++;
    if (this.down) throw new Error('Database is not open');
    return super.expire(now);
  }
}

function context(store: FailingStore): { cx: SessionContext; logs: Array<Record<string, unknown>> } {
  const { logger, lines } = logSink();
  const cx: SessionContext = {
    store,
    devices: new DeviceRegistry(),
    options: { maxExpirySeconds: 60, maxQueuedMessages: 5, maxQueuedBytes: 1024, queueQos0: false } as SessionContext['options'],
    metrics: new MqttMetrics(new Metrics(), 'mqtt'),
    logger,
  };
  return { cx, logs: lines };
}

async function parkOne(cx: SessionContext, expirySeconds: number): Promise<Subscriber> {
  const conn: Subscriber = { clientId: 'dev-1', deliver: () => true } as unknown as Subscriber;
  cx.devices.subscribe(conn, 'cmd/#', { qos: 1 });
  await park(cx, { clientId: 'dev-1', listener: 'mqtt', principal: undefined, expirySeconds, pending: [], subscriber: conn });
  return conn;
}

describe('parked sessions', () => {
  it('a session expiring while its store does not answer leaves no unhandled rejection (which would end the process)', async () => {
    const store = new FailingStore();
    const { cx, logs } = context(store);
    const rejections: unknown[] = [];
    const onRejection = (err: unknown): void => {
      rejections.push(err);
    };
    process.on('unhandledRejection', onRejection);
    try {
      const conn = await parkOne(cx, 0.05);
      expect(await store.count()).toBe(1);
      store.down = true;
      // The expiry timer fires while the store fails; its rejection must be handled.
      await new Promise((r) => setTimeout(r, 200));
      expect(rejections).toEqual([]);
      // The parked session let go of its subscriptions all the same, and the operator is told.
      expect(cx.devices.subscriptionEntries(conn)).toEqual([]);
      expect(logs.some((l) => l.clientId === 'dev-1' && String(l.msg).includes('session store failed'))).toBe(true);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('a stopping gateway retires its parked sessions: no expiry timer fires into the closed store', async () => {
    const store = new FailingStore();
    const { cx } = context(store);
    await parkOne(cx, 0.05);
    retireParked(cx, 'other-listener');
    retireParked(cx, 'mqtt');
    await new Promise((r) => setTimeout(r, 200));
    expect(store.expired).toBe(0);
    // The store keeps the session for the next start.
    expect(await store.count()).toBe(1);
  });
});
