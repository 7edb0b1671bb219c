/**
 * Regressions: one script must not hold back the others, and one sender must
 * not escape its throttle.
 *
 * - A script that spins until its time limit on every message delayed every
 *   other script on its thread (an unrelated script's p50 went from 5 to
 *   357 ms): each of its messages held the thread for the whole limit. Now it
 *   is suspended after `scripts.suspend.timeouts` time-outs in a row and its
 *   messages are refused at once (TG_ERR_SCRIPT_SUSPENDED) while the other
 *   script on the same thread is answered as usual.
 * - The per-device failure throttle was keyed by client id only, so a device
 *   rotating client ids was never throttled; failures now count per remote
 *   address as well.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { TestBackend } from '../helpers/backend.js';
import { ScriptDir } from '../unit/scripting/support.js';
import { client } from './mqtt-support.js';

const TIMEOUT_MS = 400;
const SPINNING = 20;

const failCode = (p: Promise<unknown>): Promise<number> =>
  p.then(
    () => 0,
    (e: unknown) => (e as { code?: number }).code ?? -1,
  );

function errors(metrics: string, script: string, code: string): number {
  const m = new RegExp(`thinggate_script_errors_total\\{script="${script.replace('.', '\\.')}",code="${code}"\\} (\\d+)`).exec(metrics);
  return m ? Number(m[1]) : 0;
}

describe('a script that keeps running out of time, sharing a thread with another (scripts.threads: 1)', () => {
  const dir = new ScriptDir();
  dir.write('spin.js', `export function onMessage() { for (;;) {} }`);
  dir.write('fast.js', `export function onMessage(msg) { return route('p', { path: '/fast' }); }`);
  let backend: TestBackend;
  let gw: TestGateway;
  let spinner: MqttClient;
  let other: MqttClient;

  beforeAll(async () => {
    backend = await TestBackend.start(() => ({ status: 204 }));
    gw = await startGateway(
      {
        listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
        pools: [{ name: 'p', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
        routes: [
          { match: { address: 'spin/#' }, pool: 'p', script: 'spin.js' },
          { match: { address: 'fast/#' }, pool: 'p', script: 'fast.js' },
        ],
        scripts: {
          threads: 1,
          timeoutMs: TIMEOUT_MS,
          watch: false,
          suspend: { timeouts: 2, initialMs: 60_000, maxMs: 120_000 },
          throttle: { failures: 1000, addressFailures: 1000 },
        },
      },
      { baseDir: dir.path },
    );
    spinner = await client(gw.port('mqtt'), { protocolVersion: 5, clientId: 'spinner' });
    other = await client(gw.port('mqtt'), { protocolVersion: 5, clientId: 'other' });
  });

  afterAll(async () => {
    await spinner?.endAsync();
    await other?.endAsync();
    await gw?.stop();
    await backend?.close();
    dir.remove();
  });

  it('is suspended after two time-outs; the other script on its thread keeps answering well within the limit', async () => {
    const spinning = Promise.all(Array.from({ length: SPINNING }, (_, i) => failCode(spinner.publishAsync(`spin/${i}`, 'x', { qos: 1 }))));
    // The well-behaved script's messages, one at a time, while the spinner's are queued on the same thread.
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      expect(await failCode(other.publishAsync(`fast/${i}`, 'x', { qos: 1 }))).toBe(0);
      latencies.push(performance.now() - t0);
    }
    expect((await spinning).every((c) => c === 0x80)).toBe(true);

    // Counts, not clocks: the spinner held the thread for two time limits in all, not twenty.
    const metrics = await gw.gateway.metrics.text();
    expect(errors(metrics, 'spin.js', 'TG_ERR_SCRIPT_TIMEOUT')).toBe(2);
    expect(errors(metrics, 'spin.js', 'TG_ERR_SCRIPT_SUSPENDED')).toBe(SPINNING - 2);
    expect(gw.logs.some((l) => l.script === 'spin.js' && String(l.msg).startsWith('script suspended'))).toBe(true);
    // Behind a spinner that was never suspended, the ten would have waited out most of its twenty
    // time limits (8 s); suspended after two, they wait at most for those two, plus the machine's own delays.
    const waited = latencies.reduce((a, b) => a + b, 0);
    expect(waited).toBeLessThan((SPINNING / 2) * TIMEOUT_MS);
    expect(backend.requests.filter((r) => r.url === '/fast')).toHaveLength(10);
  });

  it('while suspended its messages are refused at once and the other script is still served', async () => {
    const t0 = performance.now();
    expect(await failCode(spinner.publishAsync('spin/late', 'x', { qos: 1 }))).toBe(0x80);
    expect(await failCode(other.publishAsync('fast/late', 'x', { qos: 1 }))).toBe(0);
    expect(performance.now() - t0).toBeLessThan(TIMEOUT_MS);
    const metrics = await gw.gateway.metrics.text();
    expect(errors(metrics, 'spin.js', 'TG_ERR_SCRIPT_TIMEOUT')).toBe(2);
  });
});

describe('the failure throttle counts per remote address as well as per client id', () => {
  const dir = new ScriptDir();
  dir.write('s.js', `export function onMessage(msg) { if (msg.address === 'x/bad') throw new Error('bad'); return route('p', { path: '/ok' }); }`);
  let backend: TestBackend;
  let gw: TestGateway;

  beforeAll(async () => {
    backend = await TestBackend.start(() => ({ status: 204 }));
    gw = await startGateway(
      {
        listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
        pools: [{ name: 'p', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
        routes: [{ match: { address: 'x/#' }, pool: 'p', script: 's.js' }],
        scripts: { watch: false, throttle: { failures: 3, addressFailures: 4, cooldownMs: 60_000 } },
      },
      { baseDir: dir.path },
    );
  });

  afterAll(async () => {
    await gw?.stop();
    await backend?.close();
    dir.remove();
  });

  const once = async (clientId: string, topic: string): Promise<number> => {
    const c = await client(gw.port('mqtt'), { protocolVersion: 5, clientId });
    try {
      return await failCode(c.publishAsync(topic, 'x', { qos: 1 }));
    } finally {
      await c.endAsync();
    }
  };

  it('a sender rotating client ids is throttled by its address (0x97) after addressFailures failures', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push(await once(`rotating-${i}`, 'x/bad'));
    // Each client id failed once only (below failures: 3); the address failed four times.
    expect(codes).toEqual([0x80, 0x80, 0x80, 0x80, 0x97, 0x97]);
    // Any client id from that address waits out the cooldown, even with a good message.
    expect(await once('fresh', 'x/good')).toBe(0x97);
    expect(gw.logs.some((l) => l.msg === 'address throttled after repeated script failures' && l.remoteAddress === '127.0.0.1')).toBe(true);
    const metrics = await gw.gateway.metrics.text();
    expect(errors(metrics, 's.js', 'TG_ERR_SCRIPT_THREW')).toBe(4);
    expect(errors(metrics, 's.js', 'TG_ERR_SCRIPT_THROTTLED')).toBe(3);
  });
});
