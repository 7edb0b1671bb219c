/**
 * How messages are grouped into batches for the script thread: messages of
 * one I/O turn share a batch; a partial batch waits further turns only while
 * each turn brings more messages (up to scripts.batchTurns), so a burst is
 * not held back once the inflow pauses.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ScriptThread } from '../../../src/scripting/thread.js';
import type { ScriptResult } from '../../../src/routing/script-host.js';
import { ScriptDir, build, configFor, envelope } from './support.js';

const dir = new ScriptDir();
afterAll(() => dir.remove());

const ECHO = dir.write('echo.js', `export function onMessage() { return reply('ok'); }`);

/**
 * Runs `start` and records what the script thread was handed: the number of
 * messages in each batch, and how many event-loop turns (setImmediate hops)
 * passed before the first. (The isolate may run one batch in several time
 * slices on a slow machine; what is counted here is the hand-overs.)
 */
async function handedOver<T>(start: () => Promise<T>): Promise<{ value: T; batches: number[]; turns: number }> {
  let turns = 0;
  let handedAt = -1;
  const batches: number[] = [];
  const call = ScriptThread.prototype.call;
  const spy = vi.spyOn(ScriptThread.prototype, 'call').mockImplementation(function (this: ScriptThread, request) {
    return call.call(this, (id) => {
      const r = request(id);
      if (r.op === 'batch') {
        if (handedAt < 0) handedAt = turns;
        batches.push(r.count);
      }
      return r;
    });
  });
  let settled = false;
  const count = (): void => {
    if (settled) return;
    turns++;
    setImmediate(count);
  };
  setImmediate(count);
  try {
    const value = await start();
    settled = true;
    for (const r of value as unknown as ScriptResult[]) expect(r).toMatchObject({ ok: true, decisions: [{ action: 'reply', payload: 'ok' }] });
    return { value, batches, turns: handedAt };
  } finally {
    spy.mockRestore();
  }
}

describe('script batching over event-loop turns', () => {
  it('hands a burst over in one batch and does not wait out batchTurns once the inflow stops', async () => {
    const { host } = await build(configFor(dir, [ECHO], { batchTurns: 16 }));
    try {
      const { batches, turns } = await handedOver(() => Promise.all([1, 2, 3].map(() => host.onMessage(ECHO, envelope('s0/x')))));
      expect(batches).toEqual([3]);
      // One turn to see whether more arrive, then the hand-over: far fewer than 16.
      expect(turns).toBeLessThanOrEqual(3);
    } finally {
      await host.close();
    }
  });

  it('keeps waiting while each turn brings more messages, then hands them over in one batch', async () => {
    const { host } = await build(configFor(dir, [ECHO], { batchTurns: 16 }));
    try {
      const { batches } = await handedOver(async () => {
        const all: Array<Promise<ScriptResult>> = [];
        const send = (n: number): void => {
          for (let i = 0; i < n; i++) all.push(host.onMessage(ECHO, envelope('s0/x')));
        };
        send(2);
        // Two more turns with new messages each.
        await new Promise<void>((r) =>
          setImmediate(() => {
            send(2);
            setImmediate(() => {
              send(2);
              r();
            });
          }),
        );
        return Promise.all(all);
      });
      expect(batches).toEqual([6]);
    } finally {
      await host.close();
    }
  });

  it('with batchTurns 0 hands over what one turn brought, without waiting', async () => {
    const { host } = await build(configFor(dir, [ECHO], { batchTurns: 0 }));
    try {
      const { batches } = await handedOver(async () => {
        const first = [1, 2].map(() => host.onMessage(ECHO, envelope('s0/x')));
        await new Promise((r) => setImmediate(r));
        await new Promise((r) => setImmediate(r));
        const second = [1, 2].map(() => host.onMessage(ECHO, envelope('s0/x')));
        return Promise.all([...first, ...second]);
      });
      expect(batches).toEqual([2, 2]);
    } finally {
      await host.close();
    }
  });
});
