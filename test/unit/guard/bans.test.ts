/**
 * Bans, violation scoring and flapping detection with an injected clock:
 * matching by address, prefix, client id and principal; expiry; atomic
 * persistence; scores that decay with the half-life; bans that double on
 * repeat offences up to the cap; EMQX-style flapping.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { BanList, banValueProblem } from '../../../src/guard/bans.js';
import { GUARD_OFF, Guard } from '../../../src/guard/guard.js';
import { EmbeddedRateCounter } from '../../../src/guard/rate-counter.js';
import { Metrics } from '../../../src/observability/metrics.js';
import type { GuardConfig } from '../../../src/config/types.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'tg-bans-'));
  dirs.push(d);
  return d;
};

const config = (over: Partial<GuardConfig> = {}): GuardConfig => ({
  stateDir: '.thinggate',
  bans: [],
  exempt: [],
  scoring: { enabled: true, weights: {}, defaultWeight: 1, halfLifeSeconds: 10, threshold: 30, banSeconds: 60, maxBanSeconds: 200 },
  limits: GUARD_OFF.limits,
  flapping: { enabled: true, maxConnects: 3, maxAddressConnects: 3, windowSeconds: 10, banSeconds: 30 },
  slowPeers: GUARD_OFF.slowPeers,
  overload: GUARD_OFF.overload,
  ...over,
});

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const malformed = (remoteAddress: string, clientId?: string) => ({
  kind: 'malformed-packet',
  listener: 'mqtt',
  remoteAddress,
  ...(clientId !== undefined && { clientId }),
  detail: 'bad',
});

async function metric(metrics: Metrics, name: string): Promise<number> {
  return (await metrics.registry.getSingleMetric(name)!.get()).values.reduce((n, v) => n + v.value, 0);
}

describe('BanList', () => {
  it('matches addresses (v4-mapped too), prefixes, client ids and principals, and forgets expired bans', () => {
    const c = clock();
    const bans = new BanList({ now: c.now });
    bans.setStatic([{ kind: 'cidr', value: '10.1.0.0/16', reason: 'lab' }]);
    bans.add({ kind: 'ip', value: '192.0.2.7', reason: 'r', source: 'api', ttlMs: 1000 });
    bans.add({ kind: 'clientId', value: 'dev-1', reason: 'r', source: 'api' });
    bans.add({ kind: 'principal', value: 'alice', reason: 'r', source: 'api' });
    expect(bans.match({ remoteAddress: '::ffff:192.0.2.7' })?.kind).toBe('ip');
    expect(bans.match({ remoteAddress: '10.1.200.3' })?.kind).toBe('cidr');
    expect(bans.match({ remoteAddress: '10.2.0.1' })).toBeUndefined();
    expect(bans.match({ clientId: 'dev-1' })?.kind).toBe('clientId');
    expect(bans.match({ principal: 'alice' })?.kind).toBe('principal');
    c.advance(1000);
    expect(bans.match({ remoteAddress: '192.0.2.7' })).toBeUndefined();
    expect(bans.list()).toHaveLength(3);
  });

  it('keeps dynamic bans across instances in stateDir, written without leftovers', () => {
    const dir = tempDir();
    const first = new BanList({ stateDir: dir });
    const kept = first.add({ kind: 'clientId', value: 'x', reason: 'r', source: 'api' });
    const gone = first.add({ kind: 'ip', value: '192.0.2.1', reason: 'r', source: 'api' });
    first.remove(gone.id);
    expect(readdirSync(dir)).toEqual(['bans.json']);
    const second = new BanList({ stateDir: dir });
    expect(second.list()).toEqual([kept]);
  });

  it('holds a ban in memory and reports it when the ban file cannot be written (a ban on network input never throws)', () => {
    const blocked = join(tempDir(), 'not-a-directory');
    writeFileSync(blocked, '');
    const failures: string[] = [];
    const list = new BanList({ stateDir: join(blocked, 'state'), onStoreError: (op) => failures.push(op) });
    const ban = list.add({ kind: 'ip', value: '192.0.2.7', reason: 'r', source: 'scoring' });
    expect(list.list()).toEqual([ban]);
    list.remove(ban.id);
    expect(failures).toEqual(['put', 'delete']);
  });

  it('validates values', () => {
    expect(banValueProblem('ip', 'nope')).toMatch(/not an IP/);
    expect(banValueProblem('cidr', '10.0.0.0/33')).toMatch(/prefix/);
    expect(banValueProblem('cidr', '2001:db8::/64')).toBeUndefined();
  });
});

describe('Guard scoring', () => {
  it('bans an address and a client id at the threshold, for a duration that doubles up to the cap, and counts it', async () => {
    const c = clock();
    const metrics = new Metrics();
    const guard = new Guard(pino({ level: 'silent' }), metrics, { config: config(), now: c.now });
    // malformed-packet weighs 10 by default: the third event reaches 30.
    guard.report(malformed('192.0.2.1', 'd'));
    guard.report(malformed('192.0.2.1', 'd'));
    expect(guard.bans.list()).toHaveLength(0);
    guard.report(malformed('192.0.2.1', 'd'));
    const first = guard.bans.list();
    expect(first.map((b) => [b.kind, b.value, b.source, b.expiresAt! - b.createdAt])).toEqual([
      ['ip', '192.0.2.1', 'scoring', 60_000],
      ['clientId', 'd', 'scoring', 60_000],
    ]);
    expect(guard.refuseAddress('mqtt', '192.0.2.1')).toBeDefined();
    expect(await metric(metrics, 'thinggate_guard_bans_total')).toBe(2);
    expect(await metric(metrics, 'thinggate_guard_bans_active')).toBe(2);
    const durations: number[] = [];
    for (let i = 0; i < 3; i++) {
      c.advance(300_000); // bans expire; scores decay to nothing
      for (let k = 0; k < 3; k++) guard.report(malformed('192.0.2.1'));
      const ban = guard.bans.match({ remoteAddress: '192.0.2.1' })!;
      durations.push(ban.expiresAt! - ban.createdAt);
    }
    expect(durations).toEqual([120_000, 200_000, 200_000]);
  });

  it('lets scores decay with the half-life, skips exempt addresses and weight 0', () => {
    const c = clock();
    const guard = new Guard(pino({ level: 'silent' }), new Metrics(), { config: config({ exempt: ['127.0.0.0/8'] }), now: c.now });
    for (let i = 0; i < 10; i++) {
      guard.report(malformed('192.0.2.2'));
      c.advance(10_000); // one half-life: the score never passes 20
    }
    for (let i = 0; i < 10; i++) guard.report(malformed('127.0.0.1'));
    for (let i = 0; i < 10; i++) guard.report({ kind: 'banned', listener: 'mqtt', remoteAddress: '192.0.2.3', detail: 'x' });
    expect(guard.bans.list()).toHaveLength(0);
  });

  it('bans a flapping client id and address for banSeconds', () => {
    const c = clock();
    const guard = new Guard(pino({ level: 'silent' }), new Metrics(), { config: config(), now: c.now });
    for (let i = 0; i < 3; i++) expect(guard.refuseClient('mqtt', { remoteAddress: '192.0.2.9', clientId: 'flappy' })).toBeUndefined();
    const ban = guard.refuseClient('mqtt', { remoteAddress: '192.0.2.9', clientId: 'flappy' });
    expect([ban?.kind, ban?.source, ban!.expiresAt! - ban!.createdAt]).toEqual(['clientId', 'flapping', 30_000]);
    for (let i = 0; i < 3; i++) expect(guard.refuseAddress('mqtt', '192.0.2.10')).toBeUndefined();
    c.advance(10_000); // outside the window: counting starts again
    for (let i = 0; i < 3; i++) expect(guard.refuseAddress('mqtt', '192.0.2.10')).toBeUndefined();
    expect(guard.refuseAddress('mqtt', '192.0.2.10')?.kind).toBe('ip');
  });
});

describe('connection-rate buckets', () => {
  it('lets a burst through, then perSecond, per key; 0 never limits', () => {
    const c = clock();
    const b = new EmbeddedRateCounter({ perSecond: 2, burst: 3 }, c.now);
    const take = (k: string) => b.take(k, 1) === 0;
    expect([1, 2, 3, 4].map(() => take('a'))).toEqual([true, true, true, false]);
    expect(take('b')).toBe(true);
    c.advance(500); // one token back
    expect([take('a'), take('a')]).toEqual([true, false]);
    c.advance(60_000); // refilled to the burst, not beyond
    expect([1, 2, 3, 4].map(() => take('a'))).toEqual([true, true, true, false]);
    const off = new EmbeddedRateCounter({ perSecond: 0, burst: 1 }, c.now);
    expect([1, 2, 3].every(() => off.take('a', 1) === 0)).toBe(true);
  });
});
