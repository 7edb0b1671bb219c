/**
 * DeviceCluster on the embedded state (two nodes sharing one hub in this
 * process): takeover across nodes, publications fanned out to the other
 * node once, and delivery to a device held elsewhere with its settlement
 * sent back.
 */
import { describe, expect, it } from 'vitest';
import { DeviceRegistry, type DeviceMessage, type QoS, type Subscriber } from '../../../src/devices/registry.js';
import { DeviceCluster } from '../../../src/devices/cluster.js';
import { EmbeddedHub } from '../../../src/state/index.js';
import { EmbeddedPresence } from '../../../src/state/embedded/presence.js';
import { EmbeddedBus } from '../../../src/state/embedded/bus.js';

class FakeSession implements Subscriber {
  readonly listener = 'mqtt';
  readonly got: string[] = [];
  takenOver = 0;
  constructor(readonly clientId: string) {}
  deliver(m: DeviceMessage, _qos: QoS): boolean {
    this.got.push(m.payload.toString());
    return true;
  }
  takeOver(): void {
    this.takenOver++;
  }
}

async function node(
  id: string,
  hub: EmbeddedHub,
  take: (m: DeviceMessage) => boolean = () => true,
): Promise<{ registry: DeviceRegistry; cluster: DeviceCluster; local: string[] }> {
  const registry = new DeviceRegistry();
  const local: string[] = [];
  const cluster = new DeviceCluster({
    registry,
    presence: new EmbeddedPresence({ nodeId: id, nodeTtlMs: 60_000, hub }),
    bus: new EmbeddedBus(id, hub),
    heartbeatMs: 60_000,
    deliverLocal: (s, m) => {
      local.push(`${s.clientId}:${m.payload.toString()}`);
      return take(m);
    },
    closeLocal: () => {},
  });
  await cluster.start();
  return { registry, cluster, local };
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 10));
const msg = (topic: string, text: string): DeviceMessage => ({ topic, payload: Buffer.from(text), qos: 1, retain: false });

describe('DeviceCluster', () => {
  it('closes the session on the node that held a client id when it connects to another node', async () => {
    const hub = new EmbeddedHub();
    const a = await node('a', hub);
    const b = await node('b', hub);
    const old = new FakeSession('dev-1');
    a.registry.connect(old);
    await tick();
    b.registry.connect(new FakeSession('dev-1'));
    await tick();
    expect(old.takenOver).toBe(1);
    await Promise.all([a.cluster.stop(), b.cluster.stop()]);
  });

  it('keeps a session that reconnected to the old node before the close arrived', async () => {
    const hub = new EmbeddedHub();
    const a = await node('a', hub);
    const b = await node('b', hub);
    a.registry.connect(new FakeSession('dev-2'));
    await tick();
    b.registry.connect(new FakeSession('dev-2')); // b claims it: a will be told to close its session
    const back = new FakeSession('dev-2');
    a.registry.connect(back); // ...but the device is back on a before the close arrives
    await tick();
    expect(back.takenOver).toBe(0);
    expect(a.registry.lookup('dev-2')).toBe(back);
    await Promise.all([a.cluster.stop(), b.cluster.stop()]);
  });

  it('delivers a publication on the other node once, without sending it back', async () => {
    const hub = new EmbeddedHub();
    const a = await node('a', hub);
    const b = await node('b', hub);
    const subA = new FakeSession('sub-a');
    const subB = new FakeSession('sub-b');
    a.registry.subscribe(subA, 'devices/#', { qos: 1 });
    b.registry.subscribe(subB, 'devices/+/cmd', { qos: 1 });
    a.registry.publish(msg('devices/x/cmd', 'on'));
    await tick();
    expect(subA.got).toEqual(['on']);
    expect(subB.got).toEqual(['on']);
    await Promise.all([a.cluster.stop(), b.cluster.stop()]);
  });

  it('delivers to one device wherever presence says it is', async () => {
    const hub = new EmbeddedHub();
    const a = await node('a', hub);
    const b = await node('b', hub);
    b.registry.connect(new FakeSession('dev-3'));
    await tick();
    expect(await a.cluster.deliver('dev-3', msg('cmd', 'reboot'))).toBe('remote');
    await tick();
    expect(b.local).toEqual(['dev-3:reboot']);
    expect(await a.cluster.deliver('nobody', msg('cmd', 'x'))).toBe('absent');
    await Promise.all([a.cluster.stop(), b.cluster.stop()]);
  });

  it("sends the remote session's settlement back to the node that asked, once", async () => {
    const hub = new EmbeddedHub();
    const sessions: DeviceMessage[] = [];
    const a = await node('a', hub);
    const b = await node('b', hub, (m) => {
      sessions.push(m);
      return m.payload.toString() !== 'refused';
    });
    b.registry.connect(new FakeSession('dev-4'));
    await tick();
    const outcomes: Array<[boolean, string | undefined]> = [];
    const settled = (delivered: boolean, reason?: string): void => void outcomes.push([delivered, reason]);
    expect(await a.cluster.deliver('dev-4', { ...msg('cmd', 'go'), onSettled: settled })).toBe('remote');
    await tick();
    expect(sessions).toHaveLength(1);
    sessions[0]!.onSettled!(true);
    sessions[0]!.onSettled!(false, 'late'); // a second verdict is not the first
    await tick();
    expect(outcomes).toEqual([[true, undefined]]);
    // A session that cannot take it: settled false with the reason, from node b.
    expect(await a.cluster.deliver('dev-4', { ...msg('cmd', 'refused'), onSettled: settled })).toBe('remote');
    await tick();
    expect(outcomes[1]).toEqual([false, 'the device session on node b could not take it now']);
    // A message left unsettled when the asking node stops is settled false, not lost.
    expect(await a.cluster.deliver('dev-4', { ...msg('cmd', 'pending'), onSettled: settled })).toBe('remote');
    await a.cluster.stop();
    expect(outcomes[2]?.[0]).toBe(false);
    await b.cluster.stop();
  });
});
