/**
 * Shared ctx.state through the script threads: two script hosts standing
 * for two nodes (one process, an embedded store on one hub) run the same
 * script; what one node's script writes, the other's reads; a replaced
 * script thread loads the shared state again; and a host without the shared
 * store keeps its own (scripts.state.shared: false on the redis backend:
 * test/integration/cluster-script-state.test.ts). Runs on
 * worker threads and, in the scripts-inline project, on the event loop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedHub } from '../../../src/state/index.js';
import { EmbeddedScriptState } from '../../../src/state/embedded/script-state.js';
import { buildScriptHost } from '../../../src/scripting/factory.js';
import type { IsolateScriptHost } from '../../../src/scripting/host.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { ScriptDir, configFor, envelope, logSink, replyText, stopThreadOf } from './support.js';

const SOURCE = `export function onMessage(msg, ctx) {
  const [op, key] = msg.address.split('/').slice(1);
  if (op === 'set') { ctx.state.set(key, msg.text()); return reply('ok'); }
  if (op === 'del') { ctx.state.delete(key); return reply('ok'); }
  return reply(JSON.stringify(ctx.state.get(key) ?? null));
}`;

describe('shared ctx.state between script hosts', () => {
  const dir = new ScriptDir();
  const S = dir.write('shared.js', SOURCE);
  const hub = new EmbeddedHub();
  const hosts: IsolateScriptHost[] = [];

  /** A node's script host; `shared: false` builds it without the shared store, as the embedded backend and `scripts.state.shared: false` do. */
  async function host(node: string, shared = true): Promise<IsolateScriptHost> {
    const context = shared ? { sharedState: new EmbeddedScriptState(node, hub) } : {};
    const h = await buildScriptHost(configFor(dir, [S]), logSink().logger, new Metrics(), undefined, {}, context);
    hosts.push(h);
    return h;
  }

  const say = async (h: IsolateScriptHost, op: string, key: string, payload = ''): Promise<string> =>
    replyText(await h.onMessage(S, envelope(`s0/${op}/${key}`, payload)));

  /** Reads until the script reads `want` (the other node's write arrives a turn or two later). */
  async function readUntil(h: IsolateScriptHost, key: string, want: unknown): Promise<void> {
    const end = Date.now() + 5000;
    let got = '';
    while (Date.now() < end) {
      got = await say(h, 'get', key);
      if (got === JSON.stringify(want)) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`read ${got} for ${key}, wanted ${JSON.stringify(want)}`);
  }

  let a: IsolateScriptHost;
  let b: IsolateScriptHost;
  beforeAll(async () => {
    [a, b] = await Promise.all([host('a'), host('b')]);
  });
  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.close()));
    dir.remove();
  });

  it("one node's script reads what the other's wrote, and its own writes at once", async () => {
    expect(await say(a, 'set', 'k', 'from-a')).toBe('ok');
    expect(await say(a, 'get', 'k')).toBe('"from-a"');
    await readUntil(b, 'k', 'from-a');
    await say(b, 'del', 'k');
    await readUntil(a, 'k', null);
    expect(hub.scriptState.get(S)?.has('k')).toBe(false);
  });

  it('a node joining later, and a replaced script thread, load the shared state', async () => {
    await say(a, 'set', 'kept', 'v');
    await readUntil(b, 'kept', 'v');
    const c = await host('c');
    await readUntil(c, 'kept', 'v');
    await stopThreadOf(b.units.get(S)!);
    await readUntil(b, 'kept', 'v');
  });

  it('a host without the shared store keeps its own', async () => {
    const own = await host('own', false);
    await say(own, 'set', 'mine', 'x');
    expect(await say(own, 'get', 'kept')).toBe('null');
    await new Promise((r) => setTimeout(r, 50));
    expect(hub.scriptState.get(S)?.has('mine')).toBe(false);
    expect(await say(a, 'get', 'mine')).toBe('null');
  });
});
