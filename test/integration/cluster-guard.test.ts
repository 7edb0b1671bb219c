/**
 * The guard across two gateway processes (dist/cli.js) sharing a real
 * redis-server (`state.backend: redis`): an abuser spreading its violations
 * or its reconnects over both nodes is banned on both, though neither node
 * alone sees enough; and a client under each node's rate limit but over it
 * in sum is limited at the combined rate (shared rate counters, end to end).
 * Real clients: mosquitto_pub (-A binds the source address) and undici's fetch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestBackend } from '../helpers/backend.js';
import { startRedisNode, stopRedisNode, type RedisNode } from '../helpers/redis-nodes.js';
import { withRedis } from '../helpers/with-redis.js';
import { hashPassword } from '../../src/security/scrypt.js';
import { run } from './auth-support.js';

const redis = withRedis();
let dir: string;
let backend: TestBackend;
let a: RedisNode;
let b: RedisNode;

function startNode(id: string): Promise<RedisNode> {
  return startRedisNode(id, {
    dir,
    redisUrl: redis.url,
    keyPrefix: 'cluster-guard:',
    extra: {
      listeners: [
        { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0, auth: [{ type: 'password', file: join(dir, 'users.json') }], anonymous: true },
        { name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 },
      ],
      pools: [{ name: 'be', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
      routes: [{ match: { address: '#' }, pool: 'be', request: { method: 'POST', path: '/t/{clientId}' } }],
      guard: {
        stateDir: join(dir, id),
        exempt: [],
        // Three auth failures (90) stay under the threshold on one node; four across two nodes reach it.
        scoring: { weights: { 'auth-failure': 30 }, threshold: 100 },
        flapping: { maxConnects: 4, windowSeconds: 60 },
        limits: { messages: { clientId: { perSecond: 10, burst: 5 } } },
      },
    },
  });
}

/** The window the nodes share violation scores in (SCORE_WINDOW_MS of src/guard/shared-detectors.ts). */
const SCORE_WINDOW_MS = 10_000;

type BanView = { kind: string; value: string; source: string };
const bansOf = async (n: RedisNode): Promise<BanView[]> => (await (await fetch(`${n.admin}/api/v1/bans`)).json()) as BanView[];

/** mosquitto_pub from `from` to node `n`, as `id`, with `password` for alice when given. */
const pub = (n: RedisNode, from: string, id: string, password?: string) =>
  run('mosquitto_pub', [
    ...['-h', '127.0.0.1', '-p', String(n.port), '-A', from, '-i', id, '-t', `t/${id}`, '-m', 'x', '-q', '1', '-V', 'mqttv5'],
    ...(password !== undefined ? ['-u', 'alice', '-P', password] : []),
  ]);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-cluster-guard-'));
  backend = await TestBackend.start();
  writeFileSync(join(dir, 'users.json'), JSON.stringify({ users: { alice: { password: await hashPassword('alice-pw', { N: 1024, r: 8, p: 1 }) } } }));
  [a, b] = await Promise.all([startNode('guard-a'), startNode('guard-b')]);
}, 90_000);

afterAll(async () => {
  await Promise.all([stopRedisNode(a), stopRedisNode(b)]);
  await backend?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the guard across two nodes (Redis)', () => {
  it('violations spread over both nodes add up: the address is banned on both', async () => {
    // The nodes sum scores in fixed 10 s windows of the clock (src/guard/shared-detectors.ts):
    // four failures straddling a window's end are two sums of 60. Start with 8 s of a window left.
    const intoWindow = Date.now() % SCORE_WINDOW_MS;
    if (intoWindow > SCORE_WINDOW_MS - 8000) await new Promise((r) => setTimeout(r, SCORE_WINDOW_MS - intoWindow + 20));
    // Two auth failures on each node, each under a new client id: 60 per node, 120 in sum.
    for (const [i, n] of [a, b, a, b].entries()) expect((await pub(n, '127.0.0.5', `spread-${i}`, 'wrong')).code).not.toBe(0);
    for (const n of [a, b]) {
      await expect
        .poll(async () => (await bansOf(n)).filter((x) => x.kind === 'ip' && x.value === '127.0.0.5').map((x) => x.source), { timeout: 5000 })
        .toEqual(['scoring']);
    }
    // Refused at accept on both nodes; another address is served.
    for (const n of [a, b]) expect((await pub(n, '127.0.0.5', 'spread-ok', 'alice-pw')).code).not.toBe(0);
    expect((await pub(b, '127.0.0.6', 'bystander', 'alice-pw')).code).toBe(0);
  }, 60_000);

  it('reconnects of one client id spread over both nodes flap: banned on both', async () => {
    // Alternating: in eight connects neither node sees more than four (the limit per window),
    // the sum passes it from the fifth on. The first four are served.
    // Paced past the 250 ms flush of the shared counts, so each node has added its connects
    // before the next one (a fast host ran all eight within one flush).
    let served = 0;
    for (const n of [a, b, a, b, a, b, a, b]) {
      if ((await pub(n, '127.0.0.7', 'flappy')).code !== 0) break;
      served++;
      await new Promise((r) => setTimeout(r, 400));
    }
    expect(served).toBeGreaterThanOrEqual(4);
    expect(served).toBeLessThan(8);
    for (const n of [a, b]) {
      await expect
        .poll(async () => (await bansOf(n)).filter((x) => x.kind === 'clientId' && x.value === 'flappy').map((x) => x.source), { timeout: 5000 })
        .toEqual(['flapping']);
    }
    for (const n of [a, b]) expect((await pub(n, '127.0.0.7', 'flappy')).stdout + (await pub(n, '127.0.0.8', 'flappy')).stderr).toMatch(/banned/i);
  });

  it("a client under each node's rate limit but over it in sum is limited at the combined rate", async () => {
    // 8 requests a second to each node against 10/s (burst 5) per client id: neither node alone
    // ever limits; charged with each other's use, both do.
    const send = async (n: RedisNode): Promise<number> =>
      (await fetch(`http://127.0.0.1:${n.ports.web}/ingress/rl`, { method: 'POST', headers: { 'x-client-id': 'rl-shared' }, body: 'x' })).status;
    const statuses: number[] = [];
    const started = Date.now();
    for (let tick = 0; tick < 32; tick++) {
      const due = started + tick * 125;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      statuses.push(...(await Promise.all([send(a), send(b)])));
    }
    const seconds = (Date.now() - started) / 1000;
    const passed = statuses.filter((s) => s < 300).length;
    const limited = statuses.filter((s) => s === 429).length;
    expect(passed + limited).toBe(statuses.length);
    expect(limited).toBeGreaterThan(0);
    // The combined rate, plus each node's burst and what passes within a flush's lag (docs/scaling.md).
    expect(passed).toBeLessThanOrEqual(Math.ceil(10 * seconds * 1.35) + 2 * 5);
  });
});
