import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { hasCode } from '../../../src/errors.js';
import { poolConfig } from './helpers.js';

describe('pool configuration', () => {
  it('fills every default', () => {
    const p = poolConfig({ endpoints: [{ url: 'http://127.0.0.1:1' }], healthCheck: {}, spool: { directory: 'spool' }, batch: {} });
    expect(p).toMatchObject({
      strategy: 'round-robin',
      timeoutMs: 5000,
      totalTimeoutMs: 15000,
      maxInflight: 1024,
      maxPending: 4096,
      connections: 16,
      pipelining: 16,
      hashOn: 'clientId',
      hashLoadFactor: 1.25,
      panicThreshold: 50,
      orderedDelivery: false,
      endpoints: [{ url: 'http://127.0.0.1:1', weight: 1 }],
      healthCheck: {
        method: 'GET',
        path: '/health',
        intervalMs: 5000,
        jitterMs: 1000,
        timeoutMs: 2000,
        healthyThreshold: 2,
        unhealthyThreshold: 3,
        expectedStatuses: ['2xx'],
      },
      outlierDetection: { enabled: true, consecutiveFailures: 5, baseEjectionTimeMs: 30000, maxEjectionTimeMs: 300000, maxEjectionPercent: 50 },
      retries: {
        maxAttempts: 3,
        retryOn: ['connect-failure', 'reset', 'timeout', '502', '503', '504'],
        backoffBaseMs: 25,
        backoffMaxMs: 250,
        budgetPercent: 20,
        minRetryConcurrency: 3,
      },
      batch: { maxMessages: 100, maxDelayMs: 10, method: 'POST', path: '/batch' },
      spool: { directory: 'spool', maxMessages: 100000, concurrency: 16, retryIntervalMs: 1000 },
    });
    expect(p.tls).toBeUndefined();
  });

  it('names the JSON path of a header hash without a header', () => {
    let err: unknown;
    try {
      parseConfig({ listeners: [], routes: [], pools: [{ name: 'p', strategy: 'consistent-hash', hashOn: 'header', endpoints: [{ url: 'http://a' }] }] });
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, 'TG_ERR_CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toContain('/pools/0/hashHeader');
  });

  it('refuses unknown keys and bad retry conditions', () => {
    expect(() => poolConfig({ endpoints: [{ url: 'http://a' }], retries: { retryOn: ['409'] } })).toThrow(/retryOn\/0/);
    expect(() => poolConfig({ endpoints: [{ url: 'http://a' }], healthCheck: { expectedStatuses: ['2xy'] } })).toThrow(/expectedStatuses/);
  });
});
