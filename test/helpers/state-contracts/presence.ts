/** The Presence contract (src/state/presence.ts), run on every implementation. */
import { afterEach, describe, expect, it } from 'vitest';
import type { Presence } from '../../../src/state/index.js';

export interface PresenceWorld {
  /** An instance speaking for `nodeId`; all instances of one world share one store. */
  node(nodeId: string): Presence;
  /** The node TTL the world's instances were built with. */
  readonly nodeTtlMs: number;
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function presenceContract(name: string, makeWorld: () => Promise<PresenceWorld>): void {
  describe(`Presence contract: ${name}`, () => {
    let world: PresenceWorld | undefined;
    const open = async (): Promise<PresenceWorld> => (world = await makeWorld());
    afterEach(async () => {
      await world?.close();
      world = undefined;
    });

    it('records a claim, finds it, and forgets it on release', async () => {
      const w = await open();
      const a = w.node('a');
      await a.heartbeat();
      expect(await a.claim('dev-1')).toBeUndefined();
      expect(await a.lookup('dev-1')).toBe('a');
      expect(await w.node('b').lookup('dev-1')).toBe('a');
      expect(await a.claim('dev-1')).toBeUndefined(); // a claim by the holder itself is no takeover
      await a.release('dev-1');
      expect(await a.lookup('dev-1')).toBeUndefined();
    });

    it('keeps the principal a client id was claimed for, and forgets it with the claim', async () => {
      const w = await open();
      const a = w.node('a');
      const b = w.node('b');
      await a.heartbeat();
      await b.heartbeat();
      await a.claim('dev-p', 'alice');
      expect(await b.holder!('dev-p')).toEqual({ node: 'a', principal: 'alice' });
      await b.claim('dev-p'); // anonymous now, on b
      expect(await a.holder!('dev-p')).toEqual({ node: 'b' });
      await b.release('dev-p');
      expect(await a.holder!('dev-p')).toBeUndefined();
      await a.claim('dev-q', 'bob');
      await a.leave();
      expect(await b.holder!('dev-q')).toBeUndefined();
    });

    it('names the previous live holder on a claim from another node, and a stale release keeps the new claim', async () => {
      const w = await open();
      const a = w.node('a');
      const b = w.node('b');
      await a.heartbeat();
      await b.heartbeat();
      await a.claim('dev-2');
      expect(await b.claim('dev-2')).toBe('a');
      expect(await a.lookup('dev-2')).toBe('b');
      await a.release('dev-2'); // a's old session ends after the takeover
      expect(await b.lookup('dev-2')).toBe('b');
    });

    it('lists live nodes with what they said in their heartbeat', async () => {
      const w = await open();
      await w.node('a').heartbeat({ devices: 3 });
      await w.node('b').heartbeat({ devices: 5 });
      const nodes = await w.node('a').nodes();
      expect(nodes.map((n) => n.id).sort()).toEqual(['a', 'b']);
      expect(nodes.find((n) => n.id === 'b')!.info).toEqual({ devices: 5 });
      expect(nodes.every((n) => n.lastSeen > 0)).toBe(true);
    });

    it("treats a dead node's entries as absent once its heartbeat is older than the TTL", async () => {
      const w = await open();
      const a = w.node('a');
      const b = w.node('b');
      await a.heartbeat();
      await b.heartbeat();
      await a.claim('dev-3');
      expect(await b.lookup('dev-3')).toBe('a');
      await sleep(w.nodeTtlMs + 150);
      await b.heartbeat(); // b lives on, a stopped beating (killed)
      expect(await b.lookup('dev-3')).toBeUndefined();
      expect((await b.nodes()).map((n) => n.id)).toEqual(['b']);
      expect(await b.claim('dev-3')).toBeUndefined(); // nobody to close
      expect(await b.lookup('dev-3')).toBe('b');
    });

    it('removes a node and its entries when it leaves', async () => {
      const w = await open();
      const a = w.node('a');
      const b = w.node('b');
      await a.heartbeat();
      await b.heartbeat();
      for (let i = 0; i < 5; i++) await a.claim(`dev-l${i}`);
      await b.claim('dev-b');
      await a.leave();
      for (let i = 0; i < 5; i++) expect(await b.lookup(`dev-l${i}`)).toBeUndefined();
      expect(await b.lookup('dev-b')).toBe('b');
      expect((await b.nodes()).map((n) => n.id)).toEqual(['b']);
    });
  });
}
