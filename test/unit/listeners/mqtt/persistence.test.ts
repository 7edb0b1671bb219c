import { describe, expect, it } from 'vitest';
import { DeviceRegistry, type DeviceMessage, type Subscriber } from '../../../../src/devices/registry.js';
import { MqttMetrics } from '../../../../src/listeners/mqtt/metrics.js';
import { park, type SessionContext } from '../../../../src/listeners/mqtt/persistence.js';
import { Metrics } from '../../../../src/observability/metrics.js';
import { MemorySessionStore } from '../../../../src/state/embedded/sessions.js';
import type { StoredSession } from '../../../../src/state/sessions.js';

/** A session store that stops answering (a closed database, an unreachable Redis) once `down` is set. */
class FailingStore extends MemorySessionStore<DeviceMessage> {
  down = false;
  override async expire(now: number): Promise<Array<StoredSession<DeviceMessage>>> {
    if (this.down) throw new Error('Database is not open');
    return super.expire(now);
  }
}

describe('parked sessions', () => {
  it('a session expiring while its store does not answer leaves no unhandled rejection (which would end the process)', async () => {
    const store = new FailingStore();
    const devices = new DeviceRegistry();
    const cx: SessionContext = {
      store,
      devices,
      options: { maxExpirySeconds: 60, maxQueuedMessages: 5, maxQueuedBytes: 1024, queueQos0: false } as SessionContext['options'],
      metrics: new MqttMetrics(new Metrics(), 'mqtt'),
    };
    const rejections: unknown[] = [];
    const onRejection = (err: unknown): void => {
      rejections.push(err);
    };
    process.on('unhandledRejection', onRejection);
    try {
      const conn: Subscriber = { clientId: 'dev-1', deliver: () => true } as unknown as Subscriber;
      devices.subscribe(conn, 'cmd/#', { qos: 1 });
      await park(cx, { clientId: 'dev-1', listener: 'mqtt', principal: undefined, expirySeconds: 0.05, pending: [], subscriber: conn });
      expect(await store.count()).toBe(1);
      store.down = true;
      // The expiry timer fires while the store fails; its rejection must be handled.
      await new Promise((r) => setTimeout(r, 200));
      expect(rejections).toEqual([]);
      // The parked session let go of its subscriptions all the same.
      expect(devices.subscriptionEntries(conn)).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});
