import { describe, it, expect } from 'vitest';
import { DeviceRegistry, type DeviceMessage, type QoS, type Subscriber } from '../../../src/devices/registry.js';

function sub(clientId: string): Subscriber & { got: Array<[string, QoS, readonly number[] | undefined]> } {
  const got: Array<[string, QoS, readonly number[] | undefined]> = [];
  return { clientId, listener: 'l', got, deliver: (m: DeviceMessage, q: QoS, ids?: readonly number[]) => (got.push([m.topic, q, ids]), true) };
}

const msg = (topic: string, qos: QoS = 2, extra: Partial<DeviceMessage> = {}): DeviceMessage => ({
  topic,
  payload: Buffer.from('x'),
  qos,
  retain: false,
  ...extra,
});

describe('device registry', () => {
  it('delivers once per subscriber at the highest matching QoS, capped by the message QoS, with subscription ids', () => {
    const r = new DeviceRegistry();
    const a = sub('a');
    const b = sub('b');
    r.subscribe(a, 'x/+', { qos: 0, subscriptionId: 7 });
    r.subscribe(a, 'x/#', { qos: 2, subscriptionId: 9 });
    r.subscribe(b, 'x/y', { qos: 1 });
    expect(r.publish(msg('x/y', 1))).toEqual({ matched: 2, delivered: 2 });
    expect(a.got).toEqual([['x/y', 1, [7, 9]]]);
    expect(b.got).toEqual([['x/y', 1, undefined]]);
  });

  it('honours No Local and skips expired messages', () => {
    const r = new DeviceRegistry();
    const a = sub('a');
    r.subscribe(a, 't', { qos: 1, noLocal: true });
    expect(r.publish(msg('t'), 'a').matched).toBe(0);
    expect(r.publish(msg('t', 1, { expiresAt: Date.now() - 1 }), 'z').matched).toBe(0);
    expect(r.publish(msg('t'), 'z').matched).toBe(1);
  });

  it('tracks presence for session takeover and forgets subscriptions on disconnect', () => {
    const r = new DeviceRegistry();
    const first = sub('dev');
    const second = sub('dev');
    expect(r.connect(first)).toBeUndefined();
    r.subscribe(first, 'a/#', { qos: 1 });
    expect(r.connect(second)).toBe(first);
    r.disconnect(first); // the old session leaving must not unregister the new one
    expect(r.lookup('dev')).toBe(second);
    expect(r.publish(msg('a/b')).matched).toBe(0);
    expect(r.unsubscribe(second, 'a/#')).toBe(false);
  });
});
