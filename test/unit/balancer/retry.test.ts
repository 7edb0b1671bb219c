import { describe, expect, it } from 'vitest';
import { classifyError, RetryPolicy } from '../../../src/balancer/retry.js';
import { KeyedSerializer } from '../../../src/balancer/ordered.js';
import { parseResults } from '../../../src/balancer/batcher.js';
import { poolConfig } from './helpers.js';

const retries = poolConfig({ endpoints: [{ url: 'http://a' }] }).retries;

describe('retry policy', () => {
  it('retries 502/503/504 and failures by default, not 500 or 4xx', () => {
    const p = new RetryPolicy(retries);
    expect([500, 502, 503, 504, 404, 200].map((s) => p.retriesStatus(s))).toEqual([false, true, true, true, false, false]);
    expect(p.retriesFailure('connect-failure') && p.retriesFailure('timeout') && p.retriesFailure('reset')).toBe(true);
    const only5xx = new RetryPolicy({ ...retries, retryOn: ['5xx'] });
    expect(only5xx.retriesStatus(500)).toBe(true);
    expect(only5xx.retriesFailure('timeout')).toBe(false);
  });

  it('keeps retries within the budget, with a minimum concurrency', () => {
    const p = new RetryPolicy({ ...retries, budgetPercent: 20, minRetryConcurrency: 3 });
    p.active = 100;
    p.retrying = 19;
    expect(p.budgetAllows()).toBe(true);
    p.retrying = 20;
    expect(p.budgetAllows()).toBe(false);
    p.active = 2;
    p.retrying = 2;
    expect(p.budgetAllows()).toBe(true);
    p.retrying = 3;
    expect(p.budgetAllows()).toBe(false);
  });

  it('backs off exponentially with full jitter, capped', () => {
    const top = new RetryPolicy({ ...retries, backoffBaseMs: 10, backoffMaxMs: 50 }, () => 0.9999);
    expect([1, 2, 3, 4, 5].map((n) => top.backoffMs(n))).toEqual([10, 20, 40, 50, 50]);
    const bottom = new RetryPolicy(retries, () => 0);
    expect(bottom.backoffMs(3)).toBe(0);
  });

  it('classifies undici and socket errors', () => {
    expect(classifyError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('connect-failure');
    expect(classifyError(Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' }))).toBe('timeout');
    expect(classifyError(Object.assign(new Error('x'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }))).toBe('connect-failure');
    expect(classifyError(Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }))).toBe('reset');
    expect(classifyError(new Error('?'))).toBe('reset');
  });
});

describe('ordered delivery', () => {
  it('runs one key at a time in arrival order, other keys concurrently', async () => {
    const s = new KeyedSerializer();
    const log: string[] = [];
    const gates: Array<() => void> = [];
    const task = (name: string) => () =>
      new Promise<string>((resolve) => {
        log.push(`start ${name}`);
        gates.push(() => {
          log.push(`end ${name}`);
          resolve(name);
        });
      });
    const a1 = s.run('a', task('a1'));
    const a2 = s.run('a', task('a2'));
    const b1 = s.run('b', task('b1'));
    expect(s.waiting).toBe(1);
    expect(log).toEqual(['start a1', 'start b1']);
    gates.shift()!();
    await a1;
    await Promise.resolve();
    expect(log).toEqual(['start a1', 'start b1', 'end a1', 'start a2']);
    gates.shift()!();
    gates.shift()!();
    expect(await Promise.all([a2, b1])).toEqual(['a2', 'b1']);
    expect(s.busy('a')).toBe(false);
  });
});

describe('batch response format', () => {
  it('reads per-message results', () => {
    const r = parseResults(Buffer.from(JSON.stringify({ results: [{ id: 'a', status: 201 }, { id: 'b', status: 422, body: { error: 'bad' } }, { id: 'c' }] })));
    expect(r?.get('a')?.status).toBe(201);
    expect(r?.get('b')?.body.toString()).toBe('{"error":"bad"}');
    expect(r?.has('c')).toBe(false);
  });

  it('answers undefined for anything else', () => {
    expect(parseResults(Buffer.from('ok'))).toBeUndefined();
    expect(parseResults(Buffer.from('{"ok":true}'))).toBeUndefined();
    expect(parseResults(Buffer.from('null'))).toBeUndefined();
  });
});
