/**
 * Configuration reload (SIGHUP) with scripts, through the real gateway: an
 * unchanged script keeps its isolate and state, a changed one is swapped in,
 * and a reload naming a script that does not compile is refused while the
 * running configuration keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { TestBackend } from '../helpers/backend.js';
import { parseConfig } from '../../src/config/load.js';
import type { IsolateScriptHost } from '../../src/scripting/host.js';
import { ScriptDir } from '../unit/scripting/support.js';
import { client } from './mqtt-support.js';

const dir = new ScriptDir();
const counting = (tag: string) => `export function onMessage(msg, ctx) {
  const n = (ctx.state.get('n') ?? 0) + 1;
  ctx.state.set('n', n);
  return route('default', { path: '/${tag}/' + n });
}`;
dir.write('a.js', counting('a1'));
dir.write('b.js', counting('b1'));

let gw: TestGateway;
let backend: TestBackend;

const raw = (extra: unknown[] = []) => ({
  listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
  pools: [{ name: 'default', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
  routes: [{ match: { address: 'a/#' }, pool: 'default', script: 'a.js' }, { match: { address: 'b/#' }, pool: 'default', script: 'b.js' }, ...extra],
  scripts: { watch: false },
});

beforeAll(async () => {
  backend = await TestBackend.start(() => ({ status: 204 }));
  gw = await startGateway(raw(), { baseDir: dir.path });
});

afterAll(async () => {
  await gw.stop();
  await backend.close();
  dir.remove();
});

async function send(topic: string): Promise<string> {
  const c = await client(gw.port('mqtt'), { protocolVersion: 5 });
  try {
    await c.publishAsync(topic, 'x', { qos: 1 });
    return backend.requests.at(-1)!.url;
  } finally {
    await c.endAsync();
  }
}

describe('reload with scripts', () => {
  it('keeps unchanged isolates and state, swaps changed scripts, and keeps connections', async () => {
    expect(await send('a/1')).toBe('/a1/1');
    expect(await send('b/1')).toBe('/b1/1');
    const before = gw.gateway['pipeline']!.current.scripts as IsolateScriptHost;
    const va = before.units.get('a.js')!.version;
    const held = await client(gw.port('mqtt'), { protocolVersion: 5, clientId: 'held' });
    try {
      dir.write('b.js', counting('b2'));
      await gw.gateway.reload(parseConfig(raw(), { source: '<test>', baseDir: dir.path, env: {} }));
      const after = gw.gateway['pipeline']!.current.scripts as IsolateScriptHost;
      expect(after.units.get('a.js')!.version).toBe(va);
      expect(await send('a/2')).toBe('/a1/2');
      expect(await send('b/2')).toBe('/b2/2');
      await held.publishAsync('a/3', 'x', { qos: 1 });
      expect(backend.requests.at(-1)!.url).toBe('/a1/3');
    } finally {
      await held.endAsync();
    }
  });

  it('a reload still compiling when the gateway stops never takes over', async () => {
    dir.write('spin.js', `export function onMessage(msg) { if (msg.address.endsWith('/spin')) { for (;;) {} } return route('default'); }`);
    const spinRaw = () => ({
      listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
      pools: [{ name: 'default', endpoints: [{ url: backend.url }] }],
      routes: [{ match: { address: 's/#' }, pool: 'default', script: 'spin.js' }],
      scripts: { watch: false, timeoutMs: 600, threads: 1 },
    });
    const other = await startGateway(spinRaw(), { baseDir: dir.path });
    const c = await client(other.port('mqtt'), { protocolVersion: 5 });
    try {
      // The script's thread spins for 600 ms; the reload's compile waits behind it, and the stop comes first.
      void c.publishAsync('s/spin', 'x', { qos: 1 }).catch(() => {});
      await new Promise((r) => setTimeout(r, 50));
      dir.write('spin.js', `export function onMessage() { return drop('v2'); }`);
      const reloading = other.gateway.reload(parseConfig(spinRaw(), { source: '<test>', baseDir: dir.path, env: {} }));
      // The refusal may come while the stop is still draining: expect it from the start.
      const refused = expect(reloading).rejects.toMatchObject({ code: 'TG_ERR_NOT_STARTED' });
      await new Promise((r) => setTimeout(r, 20));
      await other.gateway.stop({ drain: true });
      await refused;
      expect(other.gateway.listener('mqtt')).toBeUndefined();
      expect(other.logs.some((l) => l.msg === 'configuration reloaded')).toBe(false);
    } finally {
      c.end(true);
      await other.stop();
    }
  });

  it('refuses a reload naming a script that does not compile; the running scripts keep serving', async () => {
    dir.write('broken.js', 'export function onMessage( {');
    const next = parseConfig(raw([{ match: { address: 'c/#' }, pool: 'default', script: 'broken.js' }]), { source: '<test>', baseDir: dir.path, env: {} });
    await expect(gw.gateway.reload(next)).rejects.toMatchObject({
      code: 'TG_ERR_CONFIG_INVALID',
      message: expect.stringMatching(/broken\.js.*does not compile/),
    });
    expect(await send('a/4')).toBe('/a1/4');
  });
});
