import { describe, expect, it } from 'vitest';
import { ActiveHealthChecker, statusExpected, type HealthTarget } from '../../../../src/balancer/health/active-check.js';
import type { HealthCheckConfig } from '../../../../src/config/types.js';
import { ManualClock } from '../helpers.js';

const CONFIG: HealthCheckConfig = {
  method: 'GET',
  path: '/health',
  intervalMs: 1000,
  jitterMs: 200,
  timeoutMs: 500,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
  expectedStatuses: ['2xx'],
};

function setup(random = () => 0) {
  const clock = new ManualClock();
  const targets: HealthTarget[] = [{ healthy: true }, { healthy: true }];
  const up = [true, true];
  const probes: Array<[number, number]> = [];
  const changes: string[] = [];
  const checker = new ActiveHealthChecker(
    CONFIG,
    targets,
    async (i) => {
      probes.push([i, clock.now()]);
      return up[i]!;
    },
    clock,
    { onChange: (i, healthy) => changes.push(`${i} ${healthy ? 'healthy' : 'unhealthy'}`) },
    random,
  );
  return { clock, targets, up, probes, changes, checker };
}

describe('active health checks', () => {
  it('marks an endpoint unhealthy after the unhealthy threshold and healthy after the healthy threshold', async () => {
    const { clock, targets, up, changes, checker } = setup();
    checker.start();
    up[0] = false;
    await clock.advance(2000);
    expect(targets[0]!.healthy).toBe(true);
    await clock.advance(1000);
    expect(targets[0]!.healthy).toBe(false);
    up[0] = true;
    await clock.advance(1000);
    expect(targets[0]!.healthy).toBe(false);
    await clock.advance(1000);
    expect(targets[0]!.healthy).toBe(true);
    expect(targets[1]!.healthy).toBe(true);
    expect(changes).toEqual(['0 unhealthy', '0 healthy']);
    checker.close();
  });

  it('treats a probe that throws as a failure', async () => {
    const clock = new ManualClock();
    const targets: HealthTarget[] = [{ healthy: true }];
    const checker = new ActiveHealthChecker(
      { ...CONFIG, unhealthyThreshold: 1 },
      targets,
      () => Promise.reject(new Error('boom')),
      clock,
      { onChange: () => {} },
      () => 0,
    );
    checker.start();
    await clock.advance(1000);
    expect(targets[0]!.healthy).toBe(false);
    checker.close();
  });

  it('adds jitter to every interval', async () => {
    const { clock, probes, checker } = setup(() => 0.999);
    const start = clock.now();
    checker.start();
    await clock.advance(2400);
    // interval 1000 + jitter 200 each time.
    expect(probes.filter(([i]) => i === 0).map(([, t]) => t - start)).toEqual([1200, 2400]);
    checker.close();
  });

  it('stops probing once closed', async () => {
    const { clock, probes, checker } = setup();
    checker.start();
    await clock.advance(1000);
    checker.close();
    const n = probes.length;
    await clock.advance(5000);
    expect(probes.length).toBe(n);
  });

  it('matches expected statuses by code and by class', () => {
    expect(statusExpected(204, ['2xx'])).toBe(true);
    expect(statusExpected(301, ['2xx'])).toBe(false);
    expect(statusExpected(301, ['2xx', 301])).toBe(true);
    expect(statusExpected(503, [200, '4xx'])).toBe(false);
  });
});
