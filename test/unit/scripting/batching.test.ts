/**
 * How messages are grouped into isolate calls: messages of one I/O turn share
 * a call; a partial batch waits further turns only while each turn brings
 * more messages (up to scripts.batchTurns), so a burst is not held back once
 * the inflow pauses.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ScriptThread } from '../../../src/scripting/thread.js';
import type { ScriptResult } from '../../../src/routing/script-host.js';
import { ScriptDir, build, configFor, envelope } from './support.js';

const dir = new ScriptDir();
afterAll(() => dir.remove());

// Numbers the calls: a promise callback runs when the isolate's microtasks are
// drained at the end of each call, so messages of one call see one number.
const CALLS = dir.write(
  'calls.js',
  `
let call = 0;
let counting = false;
export function onMessage() {
  if (!counting) {
    counting = true;
    Promise.resolve().then(() => { counting = false; call++; });
  }
  return reply(String(call));
}
`,
);

function callOf(r: ScriptResult): string {
  if (!r.ok) throw new Error(`script failed: ${r.reason}`);
  const d = r.decisions[0]!;
  if (d.action !== 'reply') throw new Error(`unexpected ${d.action}`);
  return String(d.payload);
}

/** Runs `start` and counts event-loop turns (setImmediate hops) until the first batch is handed to the script thread. */
async function turnsUntilHandedOver<T>(start: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let handedAt = -1;
  const call = ScriptThread.prototype.call;
  const spy = vi.spyOn(ScriptThread.prototype, 'call').mockImplementation(function (this: ScriptThread, request) {
    if (handedAt < 0) handedAt = turns;
    return call.call(this, request);
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
    return { value, turns: handedAt };
  } finally {
    spy.mockRestore();
  }
}

describe('script batching over event-loop turns', () => {
  it('runs a burst in one call and does not wait out batchTurns once the inflow stops', async () => {
    const { host } = await build(configFor(dir, [CALLS], { batchTurns: 16 }));
    try {
      const { value, turns } = await turnsUntilHandedOver(() => Promise.all([1, 2, 3].map(() => host.onMessage(CALLS, envelope('s0/x')))));
      expect(new Set(value.map(callOf)).size).toBe(1);
      // One turn to see whether more arrive, then the call: far fewer than 16.
      expect(turns).toBeLessThanOrEqual(3);
    } finally {
      await host.close();
    }
  });

  it('keeps waiting while each turn brings more messages, then runs them in one call', async () => {
    const { host } = await build(configFor(dir, [CALLS], { batchTurns: 16 }));
    try {
      const all: Array<Promise<ScriptResult>> = [];
      const send = (n: number): void => {
        for (let i = 0; i < n; i++) all.push(host.onMessage(CALLS, envelope('s0/x')));
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
      const calls = (await Promise.all(all)).map(callOf);
      expect(calls).toHaveLength(6);
      expect(new Set(calls).size).toBe(1);
    } finally {
      await host.close();
    }
  });

  it('with batchTurns 0 runs what one turn brought, without waiting', async () => {
    const { host } = await build(configFor(dir, [CALLS], { batchTurns: 0 }));
    try {
      const first = [1, 2].map(() => host.onMessage(CALLS, envelope('s0/x')));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      const second = [1, 2].map(() => host.onMessage(CALLS, envelope('s0/x')));
      const calls = (await Promise.all([...first, ...second])).map(callOf);
      expect(calls[0]).toBe(calls[1]);
      expect(calls[2]).toBe(calls[3]);
      expect(calls[0]).not.toBe(calls[2]);
    } finally {
      await host.close();
    }
  });
});
