/** The Bus contract (src/state/bus.ts), run on every implementation. */
import { afterEach, describe, expect, it } from 'vitest';
import type { Bus, BusMessage } from '../../../src/state/index.js';

export interface BusWorld {
  node(nodeId: string): Bus;
  close(): Promise<void>;
}

interface Received {
  readonly message: BusMessage;
  readonly from: string;
}

function collect(bus: Bus): { received: Received[]; next(): Promise<Received> } {
  const received: Received[] = [];
  const waiters: Array<(r: Received) => void> = [];
  void bus.listen((message, from) => {
    const r = { message, from };
    const w = waiters.shift();
    if (w) w(r);
    else received.push(r);
  });
  return {
    received,
    next: () => {
      const r = received.shift();
      if (r) return Promise.resolve(r);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no bus message within 3 s')), 3000);
        waiters.push((x) => (clearTimeout(t), resolve(x)));
      });
    },
  };
}

const message: BusMessage = {
  kind: 'deliver',
  clientId: 'dev-1',
  message: { topic: 'cmd/dev-1', payload: Buffer.from('on').toString('base64'), qos: 1, retain: false, headers: { a: 'b' } },
};

export function busContract(name: string, makeWorld: () => Promise<BusWorld>): void {
  describe(`Bus contract: ${name}`, () => {
    let world: BusWorld | undefined;
    afterEach(async () => {
      await world?.close();
      world = undefined;
    });

    it('sends to one listening node, saying who sent it', async () => {
      world = await makeWorld();
      const a = world.node('a');
      const b = world.node('b');
      const got = collect(b);
      await new Promise((r) => setTimeout(r, 50)); // the collector's listen() settles
      expect(await a.send('b', message)).toBe(true);
      const r = await got.next();
      expect(r).toEqual({ message, from: 'a' });
    });

    it('answers false for a node nobody listens as, and after that node closed', async () => {
      world = await makeWorld();
      const a = world.node('a');
      const b = world.node('b');
      await b.listen(() => {});
      expect(await a.send('nobody', message)).toBe(false);
      await b.close();
      expect(await a.send('b', message)).toBe(false);
    });

    it('broadcasts to every other node, not to the sender', async () => {
      world = await makeWorld();
      const a = world.node('a');
      const self: BusMessage[] = [];
      await a.listen((m) => self.push(m));
      const b = collect(world.node('b'));
      const c = collect(world.node('c'));
      await new Promise((r) => setTimeout(r, 50)); // the collectors' listen() calls settle
      const publish: BusMessage = { kind: 'publish', message: { topic: 't/1', payload: 'eA==', qos: 0, retain: false }, fromClientId: 'x' };
      expect(await a.broadcast(publish)).toBe(2);
      expect((await b.next()).message).toEqual(publish);
      expect((await c.next()).from).toBe('a');
      await new Promise((r) => setTimeout(r, 50));
      expect(self).toEqual([]);
    });
  });
}
