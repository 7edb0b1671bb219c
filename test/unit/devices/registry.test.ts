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

describe('device registry: settlement of a message several sessions take', () => {
  /** A subscriber that keeps the messages it took, to settle them later. */
  function holder(clientId: string, takes = true): Subscriber & { held: DeviceMessage[] } {
    const held: DeviceMessage[] = [];
    return { clientId, listener: 'l', held, deliver: (m: DeviceMessage) => (takes ? (held.push(m), true) : false) };
  }

  function published(r: DeviceRegistry): { calls: Array<[boolean, string | undefined]>; message: DeviceMessage } {
    const calls: Array<[boolean, string | undefined]> = [];
    const message = msg('s/t', 1, { onSettled: (ok, reason) => calls.push([ok, reason]) });
    r.publish(message);
    return { calls, message };
  }

  it('settles once, delivered, with the first session that delivers it', () => {
    const r = new DeviceRegistry();
    const a = holder('a');
    const b = holder('b');
    r.subscribe(a, 's/#', { qos: 1 });
    r.subscribe(b, 's/t', { qos: 1 });
    const { calls } = published(r);
    expect(calls).toEqual([]);
    b.held[0]!.onSettled!(false, 'session ended');
    a.held[0]!.onSettled!(true);
    expect(calls).toEqual([[true, undefined]]);
  });

  it('settles once, not delivered, when every session that took it fails', () => {
    const r = new DeviceRegistry();
    const a = holder('a');
    const b = holder('b');
    const refuses = holder('c', false);
    for (const s of [a, b, refuses]) r.subscribe(s, 's/t', { qos: 1 });
    const { calls } = published(r);
    a.held[0]!.onSettled!(false, 'expired');
    expect(calls).toEqual([]);
    b.held[0]!.onSettled!(false, 'session queue full');
    expect(calls).toEqual([[false, 'session queue full']]);
  });

  it('leaves a message no session took unsettled (the caller still owns it)', () => {
    const r = new DeviceRegistry();
    r.subscribe(holder('a', false), 's/t', { qos: 1 });
    r.subscribe(holder('b', false), 's/t', { qos: 1 });
    const { calls } = published(r);
    expect(calls).toEqual([]);
  });

  it('keeps a retained message without its settlement hook; an empty payload deletes it', async () => {
    const r = new DeviceRegistry();
    r.publish(msg('r/t', 1, { retain: true, onSettled: () => undefined }));
    const kept = await r.retainedFor('r/#');
    expect(kept.map((m) => [m.topic, m.onSettled])).toEqual([['r/t', undefined]]);
    r.publish(msg('r/t', 1, { retain: true, payload: Buffer.alloc(0) }));
    expect(await r.retainedFor('r/#')).toEqual([]);
  });
});
