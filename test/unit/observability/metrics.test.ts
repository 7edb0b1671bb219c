import { describe, it, expect } from 'vitest';
import client from 'prom-client';
import { Metrics } from '../../../src/observability/metrics.js';

describe('Metrics.histogram', () => {
  it('is exposed exactly as prom-client exposes the same observations', async () => {
    const values = [0, 0.0004, 0.0005, 0.0007, 0.003, 0.003, 0.2, 1, 9.99, 10, 10.5, 1234];
    const ours = new Metrics();
    const h = ours.histogram('t_duration_seconds', 'Durations', ['pool', 'endpoint']);
    const reference = new client.Registry();
    const ph = new client.Histogram({
      name: 't_duration_seconds',
      help: 'Durations',
      labelNames: ['pool', 'endpoint'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [reference],
    });
    for (const [i, v] of values.entries()) {
      const endpoint = i % 3 === 0 ? 'http://b:1' : 'http://a:1';
      h.labels('p', endpoint).observe(v);
      ph.labels('p', endpoint).observe(v);
    }
    const text = await ours.text();
    expect(text).toBe(await reference.metrics());
    expect(text).toContain('t_duration_seconds_bucket{le="+Inf",pool="p",endpoint="http://a:1"} 8');
  });

  it('returns the same series for the same labels, and the same histogram for the same name', () => {
    const m = new Metrics();
    const h = m.histogram('x_seconds', 'x', ['a']);
    expect(m.histogram('x_seconds', 'x', ['a'])).toBe(h);
    expect(h.labels('1')).toBe(h.labels('1'));
    expect(h.labels('1')).not.toBe(h.labels('2'));
    expect(() => h.labels('1', '2')).toThrow(/takes 1 label values/);
    expect(() => h.labels('1').observe(Number.NaN)).toThrow(/not a finite number/);
  });
});
